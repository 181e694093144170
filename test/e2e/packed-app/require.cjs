// CommonJS consumers: every subpath with a `require` export loads, and testing says it is ESM only.
const out = {};
for (const sub of ['tessera-guard', 'tessera-guard/redis', 'tessera-guard/cedar', 'tessera-guard/langchain', 'tessera-guard/ai-sdk', 'tessera-guard/openai-agents', 'tessera-guard/mcp']) {
  out[sub] = Object.keys(require(sub)).length;
}
try {
  require('tessera-guard/testing');
  out.testing = 'loaded';
} catch (err) {
  out.testing = err.code;
}
console.log(JSON.stringify(out));
