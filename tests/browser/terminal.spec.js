'use strict';
// The page in a real browser: Debian's Chromium, headless, driven by playwright-core, against the
// real host (fakepod with network "none", SQLite, the `always` sync policy, this build's page).
// Started by ctest (tests/browser/CMakeLists.txt), which passes the paths in the environment.
//
//   open the page -> prompt -> `echo hello > hello.txt` -> hello.txt in the tree (timed) ->
//   open it, edit, save -> `cat hello.txt` shows the new text -> resize -> `stty size` changed ->
//   restart the host on the same port -> the page reconnects and gets a prompt -> screenshot.
//
// Every wait is on a condition with a deadline. The host is started and stopped by its PID.

const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const { createRequire } = require('module');

const env = (name) => {
  const value = process.env[name];
  if (!value) fail(`${name} is not set (run this through ctest)`);
  return value;
};
function fail(message) {
  console.error(`browser test: ${message}`);
  process.exit(1);
}

const HOST_BINARY = env('PODTERM_HOST_BINARY');
const PLUGIN_DIR = env('PODTERM_PLUGIN_DIR');
const WEB_ROOT = env('PODTERM_WEB_ROOT');
const WEB_SOURCE = env('PODTERM_WEB_SOURCE');
const ARTIFACTS = env('PODTERM_ARTIFACTS');
const RESULTS_DIR = process.env.PODTERM_BENCHMARK_RESULTS || '';
const CHROMIUM = process.env.PODTERM_CHROMIUM || '/usr/bin/chromium';
const TARGET_MS = 2000;

if (!fs.existsSync(CHROMIUM)) {
  fail(`${CHROMIUM} is missing: run deploy/install-deps.sh as root (it installs Debian's chromium)`);
}
let chromium;
try {
  ({ chromium } = createRequire(path.join(WEB_SOURCE, 'package.json'))('playwright-core'));
} catch (e) {
  fail(`playwright-core is missing from ${WEB_SOURCE}/node_modules: run deploy/install-deps.sh ` +
    `(or: cd host/web && npm ci --no-audit --no-fund)`);
}

const log = (...args) => console.log(`[${(process.uptime()).toFixed(1)}s]`, ...args);

// ---- the host ---------------------------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function httpStatus(port, urlPath) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => { req.destroy(); resolve(0); });
  });
}

async function until(what, deadlineMs, check, intervalMs = 50) {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

class Host {
  constructor(dir, port) {
    this.dir = dir;
    this.port = port;
    this.config = path.join(dir, 'host.toml');
    fs.writeFileSync(this.config, [
      '[server]', `listen = "127.0.0.1:${port}"`, 'event_loops = 2', `web_root = "${WEB_ROOT}"`,
      '[session]', 'grace_period_s = 120', // a dropped socket resumes the same session
      '[plugins]', `path = ["${PLUGIN_DIR}"]`,
      '[runtime]', 'plugin = "fakepod"',
      '[runtime.fakepod]', `data_dir = "${dir}/fakepod"`, 'network = "none"',
      '[storage]', 'plugin = "sqlite"',
      '[storage.sqlite]', `path = "${dir}/podterm.db"`,
      '[sync]', 'plugin = "always"',
      '[auth]', 'plugin = "none"', '',
    ].join('\n'));
    this.child = null;
    this.generation = 0;
  }

  async start() {
    this.generation += 1;
    const logFile = path.join(this.dir, `host-${this.generation}.log`);
    const out = fs.openSync(logFile, 'w');
    this.logFile = logFile;
    const child = spawn(HOST_BINARY, ['--config', this.config], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    this.child = child;
    child.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    let gone = false;
    child.exited.then(() => { gone = true; });
    await until('the host to answer /readyz', 20000, async () => {
      if (gone) throw new Error(`podterm exited at start:\n${this.log()}`);
      return (await httpStatus(this.port, '/readyz')) === 200;
    });
    log(`host pid ${child.pid} ready on 127.0.0.1:${this.port}`);
  }

  log() {
    try { return fs.readFileSync(this.logFile, 'utf8'); } catch (e) { return ''; }
  }

  // SIGTERM by PID, then SIGKILL after the deadline.
  async stop(deadlineMs = 20000) {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.child = null;
    process.kill(child.pid, 'SIGTERM');
    const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL'); } catch (e) { /* gone */ } },
      deadlineMs);
    await child.exited;
    clearTimeout(timer);
  }
}

// ---- the page ---------------------------------------------------------------------------------
// The terminal's text as the user sees it, wrapped lines joined.
function terminalLines(page) {
  return page.evaluate(() => {
    const buffer = window.podterm.term.buffer.active;
    const lines = [];
    for (let i = 0; i < buffer.length; i++) {
      const line = buffer.getLine(i);
      const text = line.translateToString(true);
      if (line.isWrapped && lines.length) lines[lines.length - 1] += text; else lines.push(text);
    }
    return lines;
  });
}

// True when the cursor sits right after a prompt ("$ " or "# ").
function atPrompt(page) {
  return page.evaluate(() => {
    const buffer = window.podterm.term.buffer.active;
    const line = buffer.getLine(buffer.baseY + buffer.cursorY);
    const before = line ? line.translateToString(false).slice(0, buffer.cursorX) : '';
    return /[$#] $/.test(before);
  });
}

async function typeCommand(page, command) {
  await page.click('#terminal');
  await page.keyboard.type(command);
  await page.keyboard.press('Enter');
}

// Runs a command and waits for a new output line matching `pattern`; returns that line.
async function run(page, command, pattern, deadlineMs = 10000) {
  const count = async () => (await terminalLines(page)).filter((l) => pattern.test(l));
  const before = (await count()).length;
  await typeCommand(page, command);
  const matches = await until(`${JSON.stringify(command)} to print ${pattern}`, deadlineMs, async () => {
    const now = await count();
    return now.length > before ? now : null;
  });
  return matches[matches.length - 1];
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'podterm-browser-'));
  fs.chmodSync(dir, 0o755); // the sandboxes run as an unprivileged uid and must reach data_dir
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const host = new Host(dir, await freePort());
  let context = null;
  const problems = [];
  try {
    await host.start();

    const profile = path.join(dir, 'chromium-profile');
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 720 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--no-first-run', '--disable-sync', '--disable-quic'],
    });
    const page = context.pages()[0] || await context.newPage();
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/WebSocket connection to|Failed to load resource|ERR_CONNECTION_REFUSED|ERR_EMPTY_RESPONSE|network error/i.test(m.text())) {
        problems.push(`console error: ${m.text()}`);
      }
    });

    const url = `http://127.0.0.1:${host.port}/`;
    await page.goto(url);
    log(`opened ${url}`);
    await until('the first prompt', 30000, () => atPrompt(page));
    const sessionId = await page.evaluate(() => window.podterm.sessionId);
    log(`prompt; session ${sessionId}`);
    if (!/^user_demo_ws_/.test(sessionId)) throw new Error(`unexpected session id ${sessionId}`);
    await until('"connected" in the status line', 5000,
      async () => (await page.textContent('#conn')) === 'connected');

    // A file written in the shell shows up in the tree.
    await typeCommand(page, 'echo hello > hello.txt');
    const started = Date.now();
    await page.waitForSelector('#tree li[data-path="hello.txt"]', { timeout: 30000 });
    const treeMs = Date.now() - started;
    log(`hello.txt appeared in the tree after ${treeMs} ms (target ${TARGET_MS} ms)`);
    await until('"saved N s ago"', 5000,
      async () => /^saved \d+ s ago$/.test(await page.textContent('#save-status')));

    // Directories show as a tree.
    await typeCommand(page, 'mkdir -p src && echo "print(1 + 1)" > src/main.py && ls -l');
    await page.waitForSelector('#tree li.directory[data-path="src"] + li.file[data-path="src/main.py"]',
      { timeout: 30000 });

    // Edit it in the editor; the pod gets the new content.
    await page.click('#tree li[data-path="hello.txt"]');
    await until('the editor to show hello.txt', 10000,
      async () => (await page.inputValue('#editor-text')) === 'hello\n');
    await page.fill('#editor-text', 'hello from the editor\n');
    await page.click('#save');
    await until('the save to finish', 10000,
      async () => /^saved /.test(await page.textContent('#editor-status')));
    log('saved from the editor');
    // The host pushes the file into the pod in the background: ask again until it has arrived.
    await until('cat to show the edited text', 20000, async () => {
      try {
        await run(page, 'cat hello.txt', /^hello from the editor$/, 2000);
        return true;
      } catch (e) {
        return false;
      }
    }, 0);
    log('cat shows the edited text');
    await page.screenshot({ path: path.join(ARTIFACTS, 'page.png') });

    // Resizing the window resizes the pty.
    const size = async () => {
      const line = await run(page, 'stty size', /^\d+ \d+$/);
      return line.trim();
    };
    const before = await size();
    const cols = await page.evaluate(() => window.podterm.term.cols);
    await page.setViewportSize({ width: 900, height: 540 });
    await until('xterm.js to fit the smaller window', 5000,
      () => page.evaluate((c) => window.podterm.term.cols < c, cols));
    const expected = await page.evaluate(() => `${window.podterm.term.rows} ${window.podterm.term.cols}`);
    const after = await until(`stty size to say ${expected}`, 10000, async () => {
      const now = await size();
      return now === expected ? now : null;
    }, 0);
    if (after === before) throw new Error(`stty size did not change (${before})`);
    log(`stty size ${before} -> ${after}`);
    await page.setViewportSize({ width: 1280, height: 720 });

    // The socket drops while the host keeps the session: the page resumes from its stream offset
    // (?since=), so output printed meanwhile arrives once, nothing is redrawn or written twice.
    await run(page, "echo before''-drop", /^before-drop$/);
    await typeCommand(page, "sleep 1; echo after''-drop");
    await page.evaluate(() => window.podterm.socket.close(4000, 'test drops the socket'));
    await until('the page to resume after the drop', 15000,
      async () => (await page.textContent('#conn')) === 'connected');
    const resumed = await until('the output printed while the socket was down', 15000, async () => {
      const lines = await terminalLines(page);
      return lines.some((l) => l === 'after-drop') && (await atPrompt(page)) ? lines : null;
    });
    const once = (text) => resumed.filter((l) => l === text).length;
    if (once('before-drop') !== 1 || once('after-drop') !== 1) {
      throw new Error(`resume repeated or lost output:\n${resumed.join('\n')}`);
    }
    if (resumed.some((l) => l.includes('[connection lost'))) {
      throw new Error('a resumed terminal was written into by the page');
    }
    if (await page.textContent('#notice')) {
      throw new Error(`resume was refused: ${await page.textContent('#notice')}`);
    }
    log('resumed from the stream offset, no output lost or repeated');

    // The host goes away and comes back on the same port: the page reconnects by itself.
    await host.stop();
    log('host stopped');
    await until('the page to notice the lost connection', 10000,
      async () => (await page.textContent('#conn')) !== 'connected');
    await host.start();
    await until('the page to reconnect', 30000,
      async () => (await page.textContent('#conn')) === 'connected');
    // The new host has a new session: it cannot resume the old stream, so it says so and draws
    // the new session's screen instead.
    await until('a prompt after the reconnect', 30000, async () => {
      const notice = await page.textContent('#notice');
      return /cannot resume from byte \d+/.test(notice) && (await atPrompt(page));
    });
    log('reconnected to a new session with a prompt');
    // The new pod got the workspace's files from the database.
    await until('cat to show the saved text in the new pod', 20000, async () => {
      try {
        await run(page, 'cat hello.txt', /^hello from the editor$/, 2000);
        return true;
      } catch (e) {
        return false;
      }
    }, 0);

    const csp = problems.filter((p) => /Content Security Policy/i.test(p));
    if (csp.length) throw new Error(`the page broke its Content-Security-Policy:\n${csp.join('\n')}`);
    if (problems.length) throw new Error(`the page reported errors:\n${problems.join('\n')}`);

    const result = [
      `browser test ${new Date().toISOString()} (${chromium.name()} ${context.browser() ? context.browser().version() : ''})`,
      `hello.txt in the file tree after Enter: ${treeMs} ms (target ${TARGET_MS} ms)`,
      `stty size: ${before} -> ${after}`,
      '',
    ].join('\n');
    fs.writeFileSync(path.join(ARTIFACTS, 'result.txt'), result);
    if (RESULTS_DIR) {
      fs.mkdirSync(RESULTS_DIR, { recursive: true });
      const day = new Date().toISOString().slice(0, 10);
      fs.writeFileSync(path.join(RESULTS_DIR, `browser-${day}.txt`), result);
    }
    log(`screenshot: ${path.join(ARTIFACTS, 'page.png')}`);
    log('PASS');
  } catch (e) {
    console.error(`browser test FAILED: ${e.stack || e}`);
    if (problems.length) console.error(problems.join('\n'));
    if (context) {
      const page = context.pages()[0];
      if (page) {
        try {
          await page.screenshot({ path: path.join(ARTIFACTS, 'failure.png') });
          console.error(`terminal:\n${(await terminalLines(page)).filter((l) => l).join('\n')}`);
          console.error(`status line: ${await page.textContent('#status')}`);
        } catch (ignored) { /* the page is gone */ }
      }
    }
    console.error(`host log:\n${host.log()}`);
    process.exitCode = 1;
  } finally {
    if (context) await context.close().catch(() => {});
    await host.stop();
    if (!process.env.PODTERM_KEEP_BROWSER_TMP) fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
