/** `npm run demo`: a short agent task through the guard; see demo-run.ts. */
import { runDemo } from './demo-run.js';

await runDemo();
