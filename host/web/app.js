// The podterm page: one terminal (xterm.js over /api/terminal/ws/{session_id}, podterm.v2), the
// workspace's files (REST + the event stream) and a small editor. Plain JS, no build step.
//
// The session id lives in location.hash (and localStorage), so a reload reattaches to the same
// shell and workspace. `?token=...` in the page's URL is passed to the host: as a `bearer.<token>`
// WebSocket subprotocol beside podterm.v2, and as `Authorization: Bearer` on REST calls.
'use strict';

(() => {
  const SESSION_RE = /^user_([A-Za-z0-9-]{1,64})_ws_([A-Za-z0-9-]{1,64})_([A-Za-z0-9_-]{1,128})$/;
  const RECONNECT_FIRST_MS = 500;
  const RECONNECT_MAX_MS = 10000;
  const RECONNECT_ATTEMPTS = 10; // consecutive failures before giving up
  const MAX_EDIT_BYTES = 2 * 1024 * 1024;

  const $ = (id) => document.getElementById(id);
  const token = new URLSearchParams(location.search).get('token') || '';

  // ---- session id ------------------------------------------------------------------------
  function randomHex(bytes) {
    const a = new Uint8Array(bytes);
    crypto.getRandomValues(a); // unlike randomUUID, available on plain http too
    return Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  function uuid() {
    const h = randomHex(16);
    const v = ((parseInt(h[16], 16) & 3) | 8).toString(16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${v}${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
  function newSessionId() {
    return `user_demo_ws_${randomHex(4)}_${Date.now()}_${uuid()}`;
  }
  function pickSessionId() {
    const fromHash = decodeURIComponent(location.hash.slice(1));
    if (SESSION_RE.test(fromHash)) return fromHash;
    let stored = '';
    try { stored = localStorage.getItem('podterm.session') || ''; } catch (e) { /* private mode */ }
    return SESSION_RE.test(stored) ? stored : newSessionId();
  }
  const sessionId = pickSessionId();
  const [, user, wsName] = SESSION_RE.exec(sessionId);
  const workspace = `user_${user}_ws_${wsName}`;
  history.replaceState(null, '', `${location.pathname}${location.search}#${sessionId}`);
  try { localStorage.setItem('podterm.session', sessionId); } catch (e) { /* private mode */ }
  $('workspace').textContent = workspace;
  $('new-session').addEventListener('click', () => {
    try { localStorage.removeItem('podterm.session'); } catch (e) { /* private mode */ }
    location.hash = newSessionId();
    location.reload();
  });

  // ---- status line -----------------------------------------------------------------------
  function setConn(text, cls) {
    const el = $('conn');
    el.textContent = text;
    el.className = `state ${cls || ''}`;
  }
  function setPod(text, cls) {
    const el = $('pod');
    el.textContent = text ? `pod: ${text}` : '';
    el.className = cls || '';
  }
  function setNotice(text) {
    $('notice').textContent = text || '';
    $('notice').title = text || '';
  }
  const save = { at: 0, failed: '', kept: true };
  function renderSave() {
    const el = $('save-status');
    if (save.failed) {
      el.textContent = `saving failed: ${save.failed}`;
      el.className = 'bad';
    } else if (!save.kept) {
      el.textContent = 'files are not kept on this host';
      el.className = 'muted';
    } else if (save.at) {
      const s = Math.max(0, Math.round((Date.now() - save.at) / 1000));
      el.textContent = s < 60 ? `saved ${s} s ago` : `saved ${Math.floor(s / 60)} min ago`;
      el.className = 'ok';
    } else {
      el.textContent = 'files: not saved yet';
      el.className = 'muted';
    }
  }
  function saved() { save.at = Date.now(); save.failed = ''; renderSave(); }
  function saveFailed(reason) { save.failed = reason || 'unknown reason'; renderSave(); }
  setInterval(renderSave, 1000);
  renderSave();

  // ---- terminal --------------------------------------------------------------------------
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: '"Liberation Mono", "DejaVu Sans Mono", Menlo, monospace',
    fontSize: 14,
    scrollback: 5000,
    theme: { background: '#1a1b1e', foreground: '#d7dae0' },
  });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open($('terminal'));
  fit.fit();
  term.focus();

  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const protocols = ['podterm.v2'].concat(token ? [`bearer.${token}`] : []);
  let socket = null;
  let failures = 0;      // consecutive connections that never reached a ready shell
  let shellReady = false; // this connection's shell is running (the `ready` event)
  let retryTimer = 0;
  let shellExited = false;
  // The offset of the next text byte in the session's output stream, once the host has told us
  // (`offset` events): a reconnect then resumes with ?since= and gets exactly the bytes it missed,
  // with no redraw. Unknown (null) after a replay until the next `offset`, and for a new session.
  let streamOffset = null;
  // UTF-8 bytes of a text frame (the host counts the stream in bytes, the page receives strings).
  function utf8Length(text) {
    let n = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c < 0x80) n += 1;
      else if (c < 0x800) n += 2;
      else if (c >= 0xd800 && c <= 0xdbff) { n += 4; i++; } // a surrogate pair
      else n += 3;
    }
    return n;
  }

  function sendControl(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(encoder.encode(JSON.stringify(message)));
  }
  term.onData((data) => {
    if (shellExited) { // Enter after the shell ended starts a new one
      if (data === '\r') { shellExited = false; streamOffset = null; connect(); }
      return;
    }
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(data);
  });
  term.onResize(({ cols, rows }) => sendControl({ type: 'resize', cols, rows }));
  let fitQueued = false;
  new ResizeObserver(() => {
    if (fitQueued) return;
    fitQueued = true;
    requestAnimationFrame(() => { fitQueued = false; fit.fit(); });
  }).observe($('terminal-pane'));

  function connect() {
    clearTimeout(retryTimer);
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const url = `${scheme}://${location.host}/api/terminal/ws/${encodeURIComponent(sessionId)}` +
      `?cols=${term.cols}&rows=${term.rows}` + (streamOffset !== null ? `&since=${streamOffset}` : '');
    setConn(failures ? `reconnecting (attempt ${failures + 1})…` : 'connecting…');
    let ws;
    try {
      ws = new WebSocket(url, protocols);
    } catch (e) {
      giveUp();
      return;
    }
    ws.binaryType = 'arraybuffer';
    socket = ws;
    shellReady = false;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      setConn('connected', 'connected');
      setNotice('');
      fit.fit();
      sendControl({ type: 'resize', cols: term.cols, rows: term.rows });
      refreshTree();
    };
    ws.onmessage = (e) => {
      if (typeof e.data === 'string') {
        term.write(e.data);
        if (streamOffset !== null) streamOffset += utf8Length(e.data);
      } else {
        onEvent(e.data);
      }
    };
    ws.onclose = (e) => {
      if (socket !== ws) return;
      socket = null;
      if (shellExited) {
        setConn('shell exited: press Enter for a new one');
        return;
      }
      if (e.code === 1008 && e.reason === 'ended by an administrator') { // the admin API: no retry
        shellExited = true;
        term.write('\r\n\x1b[2m[the session was ended by an administrator: press Enter for a new one]\x1b[0m\r\n');
        setConn('ended by an administrator: press Enter for a new session');
        setPod('');
        return;
      }
      if (e.code === 1012 && e.reason === 'the session moved to another host') {
        // Another tab took it over through another replica: retrying would take it back.
        shellExited = true;
        term.write('\r\n\x1b[2m[the session moved to another tab or window: press Enter to take it back]\x1b[0m\r\n');
        setConn('moved to another tab: press Enter to take it back');
        setPod('');
        return;
      }
      if (e.code === 4001) { // session.attach_mode = "takeover": another tab or device has it now
        shellExited = true;
        term.write('\r\n\x1b[2m[this terminal was opened elsewhere: press Enter to take it back]\x1b[0m\r\n');
        setConn('opened elsewhere: press Enter to take it back');
        setPod('');
        return;
      }
      if (e.code === 1000) { // the shell ended without telling us how (v1 host)
        shellExited = true;
        term.write('\r\n\x1b[2m[the shell ended: press Enter to start a new one]\x1b[0m\r\n');
        setConn('shell exited: press Enter for a new one');
        return;
      }
      // A pod that fails to start also closes an open socket: only a ready shell resets the count.
      if (!shellReady) failures += 1;
      if (failures >= RECONNECT_ATTEMPTS) { giveUp(); return; }
      // Resuming writes nothing into the terminal (the screen must stay the host's); without an
      // offset the host redraws the screen anyway.
      if (opened && streamOffset === null) term.write('\r\n\x1b[2m[connection lost: reconnecting]\x1b[0m\r\n');
      const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** failures) * (0.75 + Math.random() / 2);
      setConn(`disconnected: retrying in ${Math.ceil(delay / 1000)} s`);
      setPod('');
      retryTimer = setTimeout(connect, delay);
    };
  }
  function giveUp() {
    term.write('\r\n\x1b[31mError: WebSocket connection failed\x1b[0m\r\nPlease refresh and try again\r\n');
    setConn('connection failed: refresh to try again', 'failed');
    setPod('');
  }

  // Host events (podterm.v2 binary frames).
  function onEvent(buffer) {
    let ev;
    try { ev = JSON.parse(decoder.decode(buffer)); } catch (e) { return; }
    switch (ev.type) {
      case 'status':
        setPod(ev.reason ? `${ev.phase} (${ev.reason})` : ev.phase, 'warn');
        break;
      case 'ready':
        shellReady = true;
        failures = 0;
        setPod('Ready', 'ok');
        break;
      case 'exit':
        if (ev.restart) { // the host starts a new shell in the same pod (session.on_shell_exit)
          shellReady = false;
          term.write(`\r\n\x1b[2m[the shell exited with ${ev.signal ? `signal ${ev.signal}` : `status ${ev.code}`}:` +
            ' a new one starts]\x1b[0m\r\n');
          break;
        }
        shellExited = true;
        setPod('');
        term.write(`\r\n\x1b[2m[the shell exited with ${ev.signal ? `signal ${ev.signal}` : `status ${ev.code}`}:` +
          ' press Enter to start a new one]\x1b[0m\r\n');
        break;
      case 'replay': // the screen is redrawn from scratch after this (a reconnect)
        term.reset();
        streamOffset = null;
        break;
      case 'offset':
        streamOffset = ev.offset;
        break;
      case 'sync':
        saved();
        onFilesChanged(ev.changed || [], ev.deleted || []);
        break;
      case 'sync-failed':
        saveFailed(ev.reason);
        break;
      case 'notice':
        setNotice(ev.text);
        break;
      case 'error':
        setPod('failed', 'bad');
        setNotice(ev.text);
        break;
      default:
        break;
    }
  }

  // ---- files -----------------------------------------------------------------------------
  const apiBase = `/api/workspaces/${workspace}`;
  const authHeaders = () => (token ? { Authorization: `Bearer ${token}` } : {});
  const itemUrl = (path) => `${apiBase}/items/${path.split('/').map(encodeURIComponent).join('/')}`;
  const collapsed = new Set();
  let items = [];
  let treeBusy = false;
  let treeAgain = false;

  function comparePaths(a, b) {
    const x = a.split('/');
    const y = b.split('/');
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
    }
    return x.length - y.length;
  }

  async function refreshTree() {
    if (treeBusy) { treeAgain = true; return; }
    treeBusy = true;
    try {
      do {
        treeAgain = false;
        const res = await fetch(`${apiBase}/items`, { headers: authHeaders(), cache: 'no-store' });
        save.kept = res.status !== 404;
        renderSave();
        if (res.ok) {
          items = (await res.json()).filter((it) => typeof it.path === 'string');
          items.sort((a, b) => comparePaths(a.path, b.path));
          $('tree-note').textContent = items.length ? '' : 'No files yet.';
        } else if (res.status === 404) {
          items = [];
          $('tree-note').textContent = 'Files are not kept on this host (no storage).';
        } else {
          $('tree-note').textContent = `Could not list files (${res.status}).`;
        }
        renderTree();
      } while (treeAgain);
    } catch (e) {
      $('tree-note').textContent = 'Could not list files (offline?).';
    } finally {
      treeBusy = false;
    }
  }

  function renderTree() {
    const ul = $('tree');
    const frag = document.createDocumentFragment();
    for (const it of items) {
      const parts = it.path.split('/');
      let hidden = false;
      for (let i = 1; i < parts.length && !hidden; i++) hidden = collapsed.has(parts.slice(0, i).join('/'));
      if (hidden) continue;
      const li = document.createElement('li');
      li.className = it.kind + (collapsed.has(it.path) ? ' collapsed' : '') + (it.path === editor.path ? ' open' : '');
      li.style.paddingLeft = `${8 + 14 * (parts.length - 1)}px`;
      li.textContent = parts[parts.length - 1];
      li.title = it.path;
      li.dataset.path = it.path;
      li.setAttribute('role', 'treeitem');
      frag.appendChild(li);
    }
    ul.replaceChildren(frag);
  }

  $('tree').addEventListener('click', (e) => {
    const li = e.target.closest('li');
    if (!li) return;
    const path = li.dataset.path;
    if (li.classList.contains('directory')) {
      if (collapsed.has(path)) collapsed.delete(path); else collapsed.add(path);
      renderTree();
    } else if (li.classList.contains('file')) {
      openFile(path);
    }
  });
  $('refresh').addEventListener('click', refreshTree);

  let treeTimer = 0;
  function onFilesChanged(changed, deleted) {
    clearTimeout(treeTimer);
    treeTimer = setTimeout(refreshTree, 30); // one listing for the WebSocket and SSE copies
    const names = (list) => list.map((p) => (typeof p === 'string' ? p : ''));
    if (!editor.path) return;
    if (names(deleted).includes(editor.path)) {
      editorStatus('deleted elsewhere: Save puts it back', 'warn');
      editor.etag = '';
    } else if (names(changed).includes(editor.path) && !editor.dirty && !editor.busy) {
      openFile(editor.path, true);
    }
  }

  // The workspace's event stream, read with fetch so a token can go in a header. No replay after
  // a reconnect, so the tree is listed again each time the stream (re)starts.
  async function watchEvents() {
    let wait = 1000;
    for (;;) {
      try {
        const res = await fetch(`${apiBase}/events`, {
          headers: { ...authHeaders(), Accept: 'text/event-stream' }, cache: 'no-store',
        });
        if (res.status === 404) return; // no storage: nothing to watch
        if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        let listed = false;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let end;
          while ((end = buf.search(/\r?\n\r?\n/)) >= 0) {
            const block = buf.slice(0, end);
            buf = buf.slice(end).replace(/^\r?\n\r?\n/, '');
            let event = 'message';
            const data = [];
            for (const line of block.split(/\r?\n/)) {
              if (line.startsWith('retry:')) wait = Number(line.slice(6)) || wait;
              else if (line.startsWith('event:')) event = line.slice(6).trim();
              else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
            }
            if (!listed) { listed = true; refreshTree(); }
            if (!data.length) continue;
            let payload = {};
            try { payload = JSON.parse(data.join('\n')); } catch (e) { continue; }
            if (event === 'sync') { saved(); onFilesChanged(payload.paths || [], payload.deleted || []); }
            if (event === 'sync-failed') saveFailed(payload.reason);
          }
        }
      } catch (e) {
        // fall through to the retry below
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  // ---- editor ----------------------------------------------------------------------------
  const editor = { path: '', etag: '', dirty: false, busy: false };
  const text = $('editor-text');

  function editorStatus(message, cls) {
    const el = $('editor-status');
    el.textContent = message || '';
    el.className = cls || 'muted';
  }
  function setDirty(dirty) {
    editor.dirty = dirty;
    $('editor-dirty').hidden = !dirty;
  }
  function showEditor(show) {
    $('editor').hidden = !show;
    $('layout').classList.toggle('editing', show);
  }

  async function openFile(path, quiet) {
    if (editor.dirty && path !== editor.path &&
        !confirm(`Discard your changes to ${editor.path}?`)) return;
    editor.busy = true;
    try {
      // A reload asks only for a newer version: our own save comes back as a sync event too.
      const headers = authHeaders();
      if (quiet && editor.etag) headers['If-None-Match'] = editor.etag;
      const res = await fetch(itemUrl(path), { headers, cache: 'no-store' });
      if (res.status === 304) return;
      if (!res.ok) { editorStatus(`could not open ${path} (${res.status})`, 'bad'); return; }
      const bytes = new Uint8Array(await res.arrayBuffer());
      let content;
      try {
        if (bytes.length > MAX_EDIT_BYTES) throw new Error('large');
        content = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      } catch (e) {
        editorStatus(`${path} is not a text file this editor can change`, 'warn');
        return;
      }
      editor.path = path;
      editor.etag = res.headers.get('ETag') || '';
      text.value = content;
      text.readOnly = false;
      setDirty(false);
      $('editor-path').textContent = path;
      showEditor(true);
      editorStatus(quiet ? 'reloaded: it changed in the workspace' : '');
      renderTree();
      if (!quiet) text.focus();
    } catch (e) {
      editorStatus(`could not open ${path}: ${e.message}`, 'bad');
    } finally {
      editor.busy = false;
    }
  }

  async function saveFile() {
    if (!editor.path || editor.busy) return;
    editor.busy = true;
    $('save').disabled = true;
    editorStatus('saving…');
    try {
      const headers = { ...authHeaders(), 'Content-Type': 'application/octet-stream' };
      if (editor.etag) headers['If-Match'] = editor.etag;
      const body = text.value;
      const res = await fetch(itemUrl(editor.path), { method: 'PUT', headers, body });
      if (res.ok) {
        editor.etag = res.headers.get('ETag') || '';
        if (text.value === body) setDirty(false);
        editorStatus(`saved ${new Date().toLocaleTimeString()}`, 'ok');
      } else if (res.status === 412) {
        editor.etag = ''; // the next Save overwrites
        editorStatus('it changed elsewhere since you opened it: Save again to overwrite, or reopen it', 'warn');
      } else {
        let reason = `${res.status}`;
        try { reason = (await res.json()).error || reason; } catch (e) { /* not JSON */ }
        editorStatus(`saving failed: ${reason}`, 'bad');
      }
    } catch (e) {
      editorStatus(`saving failed: ${e.message}`, 'bad');
    } finally {
      editor.busy = false;
      $('save').disabled = false;
    }
  }

  text.addEventListener('input', () => setDirty(true));
  text.addEventListener('keydown', (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === 's') { e.preventDefault(); saveFile(); }
    if (e.key === 'Tab' && !e.shiftKey) { e.preventDefault(); text.setRangeText('\t', text.selectionStart, text.selectionEnd, 'end'); setDirty(true); }
  });
  $('save').addEventListener('click', saveFile);
  $('close').addEventListener('click', () => {
    if (editor.dirty && !confirm(`Discard your changes to ${editor.path}?`)) return;
    editor.path = '';
    setDirty(false);
    showEditor(false);
    renderTree();
    term.focus();
  });
  window.addEventListener('beforeunload', (e) => { if (editor.dirty) e.preventDefault(); });

  // For tests and the curious: the terminal and the session.
  window.podterm = { term, sessionId, workspace, editor, get socket() { return socket; } };

  connect();
  watchEvents();
})();
