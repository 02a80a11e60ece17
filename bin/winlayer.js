#!/usr/bin/env node
// The installed entry point: runs the bundled CLI (`npm run build` makes dist/bin/: one module per command, loaded
// when the command runs; about 20–30 ms less start-up than the ~60 separate modules of dist/cli/).
import { runProcess } from '../dist/bin/main.js';

runProcess();
