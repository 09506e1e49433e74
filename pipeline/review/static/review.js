// diptych review page: listen, edit, decide. Plain script, no network beyond this server.
// Data is only ever put into the page with textContent (never innerHTML); one listener per
// kind of event on the transcript (event delegation), none per word.
"use strict";
(function () {
  const body = document.body;
  const slug = body.dataset.slug;
  if (!slug) return; // the episodes list needs no script
  const token = body.dataset.token;
  let version = Number(body.dataset.version);
  let stale = false;
  let queue = Promise.resolve();
  const $ = (id) => document.getElementById(id);
  const audio = $("audio");
  const rows = $("rows");
  const statusEl = $("status");
  let segs = [];   // segment elements in time order
  let starts = []; // their start times
  let selected = null;
  let playing = null;
  let editing = null; // {el, textarea, original}
  let regrouping = false; // nodes are being moved: a focus lost meanwhile is not the person's

  function index() {
    segs = Array.from(rows.querySelectorAll(".seg"));
    starts = segs.map((el) => Number(el.dataset.s));
  }

  function clock(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    const h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    const ss = String(s).padStart(2, "0");
    return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  // The same markup as segment_html() in pipeline/review/view.py.
  function renderSegment(seg) {
    const div = el("div", "seg" + (seg.todo ? " todo" : "") + (seg.flags.length ? " flagged" : ""));
    div.id = "s" + seg.id;
    div.dataset.id = seg.id;
    div.dataset.s = seg.start_s;
    div.dataset.e = seg.end_s;
    const t = el("button", "t", seg.clock);
    t.type = "button";
    t.tabIndex = -1;
    t.title = "play from " + seg.clock;
    div.append(t);
    if (seg.speaker) div.append(el("span", "spk", seg.speaker));
    const tx = el("span", "tx");
    if (seg.words.length) {
      for (const [start, text, probability, heard] of seg.words) {
        const w = el("span", null, text);
        w.dataset.s = start;
        if (heard !== undefined) {
          articleWord(tx, w, heard);
          continue;
        }
        if (probability < Number(body.dataset.low)) {
          w.className = "lc";
          w.title = `unsure word (${Math.round(probability * 100)} %)`;
        }
        tx.append(w, " ");
      }
    } else {
      tx.textContent = seg.text;
    }
    div.append(tx);
    if (seg.flags.length) {
      const flag = el("span", "flag", "⚑");
      flag.title = seg.flags.join("; ");
      div.append(flag);
    }
    if (seg.todo) {
      const chk = el("button", "chk", "✓");
      chk.type = "button";
      chk.title = "mark as checked: it is right as it is";
      div.append(chk);
    }
    return div;
  }

  // A word taken from the article (article_word_html() in pipeline/review/view.py).
  function articleWord(tx, w, heard) {
    w.className = "fa";
    w.title = "taken from the article" + (heard ? "; heard: " + heard : "");
    tx.append(w, " ");
    if (!heard) return;
    w.dataset.heard = heard;
    const back = el("button", "revert", "↶");
    back.type = "button";
    back.tabIndex = -1;
    back.title = "put back what was heard: " + heard;
    tx.append(back, " ");
  }

  // Put back what Whisper heard in place of one replacement: an ordinary edit of the segment's text.
  function revertText(button) {
    const first = button.previousElementSibling;
    const words = [];
    let inside = false;
    for (const node of button.parentNode.children) {
      if (node.tagName !== "SPAN") continue;
      if (node === first) {
        words.push(first.dataset.heard);
        inside = true;
      } else if (inside && node.classList.contains("fa") && !node.dataset.heard) {
        continue;  // the rest of the same replacement
      } else {
        inside = false;
        words.push(node.textContent);
      }
    }
    return words.join(" ");
  }

  function say(text) {
    statusEl.textContent = text;
  }

  function showConflict(message) {
    stale = true;
    $("banner-text").textContent = message;
    $("banner").hidden = false;
    say("not saved");
  }

  async function post(path, payload) {
    const response = await fetch(`/api/episodes/${slug}/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Diptych-Token": token },
      body: JSON.stringify(payload),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { error: response.statusText }; }
    if (response.status === 409 && path === "edit") {
      showConflict(data.error || "changed in another tab/window: reload");
      throw new Error(data.error);
    }
    if (!response.ok) {
      const message = data.error || data.detail || response.statusText;
      say(typeof message === "string" ? message : "refused");
      throw Object.assign(new Error(message), { data });
    }
    return data;
  }

  // A published episode edited here: how many edits the site does not carry yet, and a way to publish them.
  function showNotLive(count) {
    $("not-live").hidden = !count;
    $("not-live-count").textContent = count;
    $("not-live-word").textContent = count === 1 ? "change" : "changes";
  }
  $("republish").addEventListener("click", async () => {
    $("republish").disabled = true;
    try {
      const data = await post("republish", {});
      $("republish-status").textContent = data.started ? "publishing…" : "run 'diptych publish " + slug + "'";
    } finally {
      $("republish").disabled = false;
    }
  });

  // Every edit is saved at once, one after the other, each on top of the version before.
  function op(payload) {
    if (stale) return Promise.reject(new Error("stale"));
    const run = queue.then(async () => {
      say("saving…");
      const data = await post("edit", Object.assign({ base_version: version }, payload));
      version = data.version;
      applyPatch(data.patch);
      $("todo").textContent = data.todo;
      $("confirm-left").textContent = data.todo;
      if (!data.todo) $("confirm").hidden = true;
      $("undo").disabled = !data.can_undo;
      if (document.activeElement !== $("speaker")) $("speaker").value = data.speaker;
      showNotLive(data.not_live || 0);
      say("saved");
      return data;
    });
    queue = run.catch(() => {});
    return run;
  }

  // Redraw what changed; when segments came, went or moved, regroup the rows in place (no
  // reload: the player, the scroll position, the selection, the find box and an open editor stay).
  function applyPatch(patch) {
    const was = selected && { id: selected.dataset.id, s: Number(selected.dataset.s) };
    const anchor = patch.rows ? viewAnchor() : null;
    for (const id of patch.removed) {
      const node = $("s" + id);
      if (node) node.remove();
    }
    for (const seg of patch.changed) {
      const node = $("s" + seg.id);
      if (node) node.replaceWith(renderSegment(seg));
    }
    if (patch.rows) regroup(patch.rows, patch.added.map(renderSegment));
    index();
    select(was && ($("s" + was.id) || successorOf(was.s)), false);
    if (anchor && $("s" + anchor.id)) window.scrollBy(0, $("s" + anchor.id).getBoundingClientRect().top - anchor.top);
    for (const node of rows.querySelectorAll(".seg.playing")) node.classList.remove("playing");
    playing = null;
    highlight();
  }

  // The segment in view to keep in place: the selected one, else the first one on screen.
  function viewAnchor() {
    let node = selected && selected.isConnected && visible(selected) ? selected : null;
    if (!node) {
      let lo = 0, hi = segs.length - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (segs[mid].getBoundingClientRect().bottom <= 0) lo = mid + 1; else hi = mid - 1;
      }
      node = segs[lo];
    }
    return node ? { id: node.dataset.id, top: node.getBoundingClientRect().top } : null;
  }

  // The segment that now holds time `s` (a merge), else the first one after it.
  function successorOf(s) {
    const node = segmentAt(s);
    if (node && Number(node.dataset.e) > s) return node;
    return segs[node ? segs.indexOf(node) + 1 : 0] || null;
  }

  function rowKey(row) {
    const first = row.querySelector(".acol > .blk") || row.querySelector(".tcol > .seg");
    return first ? first.id : "";
  }

  function newRow() {
    const row = el("div", "row");
    row.append(el("div", "tcol"));
    if (!rows.classList.contains("single")) row.append(el("div", "acol"));
    return row;
  }

  // Make `parent`'s element children exactly `nodes`, moving only those out of place.
  function place(parent, nodes) {
    nodes.forEach((node, i) => {
      const at = parent.children[i];
      if (at !== node) parent.insertBefore(node, at || null);
    });
    while (parent.children.length > nodes.length) parent.children[nodes.length].remove();
  }

  // Rows as the server grouped them ({segments: ids, blocks: indexes, only_audio}): rows are
  // kept by their first block (else first segment) and only what moved is moved.
  function regroup(layout, added) {
    const segNodes = new Map(Array.from(rows.querySelectorAll(".seg"), (n) => [n.id, n]));
    for (const node of added) segNodes.set(node.id, node);
    const blocks = new Map(Array.from(rows.querySelectorAll(".acol > .blk"), (n) => [n.id, n]));
    const old = new Map(Array.from(rows.querySelectorAll(":scope > .row:not(.head)"), (r) => [rowKey(r), r]));
    const focus = editing && document.activeElement === editing.area
      ? [editing.area.selectionStart, editing.area.selectionEnd] : null;
    regrouping = true;
    let cursor = rows.querySelector(":scope > .row.head").nextElementSibling;
    for (const r of layout) {
      const key = r.blocks.length ? "b" + r.blocks[0] : "s" + r.segments[0];
      const row = old.get(key) || newRow();
      old.delete(key);
      row.classList.toggle("only-audio", r.only_audio);
      place(row.querySelector(".tcol"), r.segments.map((id) => segNodes.get("s" + id)).filter(Boolean));
      const acol = row.querySelector(".acol");
      if (acol) {
        const only = r.only_audio ? [acol.querySelector(":scope > .only") || el("p", "only", "only in the episode")] : [];
        place(acol, only.concat(r.blocks.map((i) => blocks.get("b" + i)).filter(Boolean)));
      }
      if (row === cursor) cursor = cursor.nextElementSibling;
      else rows.insertBefore(row, cursor);
    }
    for (const row of old.values()) row.remove();
    regrouping = false;
    if (focus && editing && editing.el.isConnected) {
      editing.area.focus({ preventScroll: true });
      editing.area.setSelectionRange(focus[0], focus[1]);
    }
  }

  // ---------------------------------------------------------------- listening

  function segmentAt(time) {
    let lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] <= time + 0.001) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found >= 0 ? segs[found] : null;
  }

  function visible(node) {
    const r = node.getBoundingClientRect();
    return r.top >= 0 && r.bottom <= window.innerHeight;
  }

  function select(node, scroll) {
    if (selected) selected.classList.remove("sel");
    selected = node;
    if (!node) return;
    node.classList.add("sel");
    if (scroll && !visible(node)) node.scrollIntoView({ block: "center" });
  }

  function seek(time, play) {
    if (!audio) return;
    audio.currentTime = Math.max(0, time);
    if (play) audio.play().catch(() => {});
    highlight();
  }

  // Follow the playing segment only while the person just listens: never under the pointer
  // right after a click, a key or a scroll, nor while the audio is still seeking.
  let actedAt = 0;
  for (const type of ["pointerdown", "keydown", "wheel", "touchstart"]) {
    document.addEventListener(type, () => { actedAt = performance.now(); }, { capture: true, passive: true });
  }

  function following() {
    return !audio.paused && !audio.seeking && !editing && performance.now() - actedAt > 2500;
  }

  function highlight() {
    if (!audio) return;
    const node = segmentAt(audio.currentTime);
    if (node !== playing) {
      if (playing) playing.classList.remove("playing");
      playing = node;
      if (node) {
        node.classList.add("playing");
        if (following() && !visible(node)) node.scrollIntoView({ block: "center" });
      }
    }
    const old = rows.querySelector(".tx .now");
    if (old) old.classList.remove("now");
    if (node) {
      let word = null;
      for (const w of node.querySelectorAll(".tx > span")) {
        if (Number(w.dataset.s) <= audio.currentTime + 0.001) word = w; else break;
      }
      if (word) word.classList.add("now");
    }
  }

  function step(delta) {
    const current = selected || playing;
    let i = current ? segs.indexOf(current) + delta : 0;
    i = Math.max(0, Math.min(segs.length - 1, i));
    if (!segs[i]) return;
    select(segs[i], true);
    seek(Number(segs[i].dataset.s), false);
  }

  function nextTodo() {
    const todos = Array.from(rows.querySelectorAll(".seg.todo"));
    if (!todos.length) { say("nothing left to check"); return; }
    const current = selected || playing;
    const from = current ? segs.indexOf(current) : -1;
    const next = todos.find((n) => segs.indexOf(n) > from) || todos[0];
    select(next, true);
    seek(Number(next.dataset.s), false);
  }

  // ---------------------------------------------------------------- editing

  function textOf(node) {
    return node.querySelector(".tx").textContent.replace(/\s+/g, " ").trim();
  }

  function startEdit(node) {
    if (!node || stale) return;
    if (editing) finishEdit(true);
    select(node, true);
    const original = textOf(node);
    const box = el("div", "editor");
    const area = el("textarea");
    area.value = original;
    area.rows = Math.max(2, Math.ceil(original.length / 70));
    const bar = el("div", "bar");
    const split = el("button", "split", "Split at cursor");
    const merge = el("button", "merge", "Merge with next");
    const speaker = el("input", "seg-speaker");
    speaker.placeholder = "speaker of this segment";
    speaker.maxLength = 80;
    speaker.setAttribute("list", "speakers");
    speaker.setAttribute("aria-label", "speaker of this segment");
    speaker.value = (node.querySelector(".spk") || {}).textContent || "";
    split.type = merge.type = "button";
    bar.append(split, merge, speaker, el("span", "hint", "Enter saves · Esc cancels"));
    box.append(area, bar);
    node.classList.add("editing");
    node.append(box);
    editing = { el: node, area, original, speaker };
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
  }

  function closeEditor() {
    if (!editing) return null;
    const was = editing;
    editing = null; // first: removing the focused textarea fires focusout
    const box = was.el.querySelector(".editor");
    if (box) box.remove();
    was.el.classList.remove("editing");
    return was;
  }

  function finishEdit(save) {
    const was = closeEditor();
    if (!was || !save) return Promise.resolve();
    const text = was.area.value.replace(/\s+/g, " ").trim();
    if (text === was.original) return Promise.resolve();
    return op({ op: "edit", segment_id: Number(was.el.dataset.id), text });
  }

  async function splitAtCursor() {
    const { area } = editing;
    const head = area.value.slice(0, area.selectionStart).replace(/\s+/g, " ").replace(/^ /, "");
    const id = Number(editing.el.dataset.id);
    await finishEdit(true);
    await op({ op: "split", segment_id: id, offset: head.length });
  }

  async function mergeWithNext() {
    const id = Number(editing.el.dataset.id);
    await finishEdit(true);
    await op({ op: "merge", segment_id: id });
  }

  // ---------------------------------------------------------------- events

  rows.addEventListener("click", (event) => {
    const target = event.target;
    if (target.closest(".editor")) return;
    const node = target.closest(".seg");
    if (target.closest(".chk") && node) {
      op({ op: "check", segment_id: Number(node.dataset.id) }).catch(() => {});
      return;
    }
    if (target.closest(".revert") && node) {
      op({ op: "edit", segment_id: Number(node.dataset.id), text: revertText(target.closest(".revert")) }).catch(() => {});
      return;
    }
    const block = target.closest(".blk[data-s]");
    if (block && target.closest(".play")) {
      target.closest(".play").blur();
      seek(Number(block.dataset.s), true);
      return;
    }
    if (target.closest("button")) target.closest("button").blur();
    if (!node) return;
    const word = target.closest(".tx > span[data-s]");
    select(node, false);
    seek(Number((word || node).dataset.s), true);
  });

  rows.addEventListener("dblclick", (event) => {
    const node = event.target.closest(".seg");
    if (node && !event.target.closest(".editor")) startEdit(node);
  });

  rows.addEventListener("mousedown", (event) => {
    // Buttons of the editor keep the focus in the text, so the cursor position is known.
    if (event.target.closest(".editor button")) event.preventDefault();
  });

  rows.addEventListener("click", (event) => {
    if (!editing) return;
    if (event.target.closest(".editor .split")) splitAtCursor().catch(() => {});
    else if (event.target.closest(".editor .merge")) mergeWithNext().catch(() => {});
  });

  rows.addEventListener("keydown", (event) => {
    if (!editing) return;
    if (event.target === editing.area && event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      finishEdit(true).catch(() => {});
    } else if (event.key === "Escape") {
      event.preventDefault();
      finishEdit(false);
    } else if (event.target === editing.speaker && event.key === "Enter") {
      event.preventDefault();
      const id = Number(editing.el.dataset.id), name = editing.speaker.value;
      finishEdit(true).then(() => op({ op: "speaker", segment_id: id, text: name })).catch(() => {});
    }
  });

  rows.addEventListener("focusout", (event) => {
    // Leaving the editor (not moving inside it) saves, like Enter.
    if (regrouping || !editing || !editing.el.contains(event.target)) return;
    if (event.relatedTarget && editing.el.contains(event.relatedTarget)) return;
    finishEdit(true).catch(() => {});
  });

  document.addEventListener("keydown", (event) => {
    const tag = event.target.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || event.ctrlKey || event.metaKey || event.altKey) return;
    const keys = {
      " ": () => audio && (audio.paused ? audio.play().catch(() => {}) : audio.pause()),
      j: () => step(1),
      k: () => step(-1),
      n: () => nextTodo(),
      Enter: () => startEdit(selected || playing),
      Escape: () => select(null),
      ArrowLeft: () => audio && seek(audio.currentTime - 5, false),
      ArrowRight: () => audio && seek(audio.currentTime + 5, false),
      c: () => (selected || playing) && op({ op: "check", segment_id: Number((selected || playing).dataset.id) }).catch(() => {}),
      u: () => !$("undo").disabled && op({ op: "undo" }).catch(() => {}),
    };
    const action = keys[event.key];
    if (!action) return;
    if (tag === "BUTTON" && (event.key === " " || event.key === "Enter")) return; // let buttons work
    event.preventDefault();
    action();
  });

  if (audio) {
    audio.addEventListener("timeupdate", highlight);
    audio.addEventListener("seeked", highlight);
  }

  document.querySelector(".speeds").addEventListener("click", (event) => {
    const button = event.target.closest("button[data-rate]");
    if (!button || !audio) return;
    audio.playbackRate = Number(button.dataset.rate);
    for (const b of document.querySelectorAll(".speeds button")) b.classList.toggle("on", b === button);
    button.blur(); // keep the keyboard shortcuts (space) for the player
  });

  $("next-todo").addEventListener("click", nextTodo);
  $("undo").addEventListener("click", () => op({ op: "undo" }).catch(() => {}));
  $("reload").addEventListener("click", () => location.reload());
  $("speaker").addEventListener("change", (event) => {
    op({ op: "speaker", text: event.target.value }).catch(() => {});
  });

  // ---------------------------------------------------------------- find and replace

  function findPayload() {
    return { find: $("find").value, whole_word: $("whole").checked };
  }

  $("find-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const list = $("matches");
    list.replaceChildren();
    $("replace-all").disabled = true;
    let data;
    try { data = await post("find", findPayload()); } catch (e) { $("match-count").textContent = ""; return; }
    $("match-count").textContent = `${data.count} match${data.count === 1 ? "" : "es"}`;
    for (const m of data.matches) {
      const item = el("li");
      const node = $("s" + m.segment_id);
      const at = el("button", "at", node ? clock(Number(node.dataset.s)) : "");
      at.type = "button";
      at.dataset.id = m.segment_id;
      item.append(at, " …" + m.before, el("mark", null, m.match), m.after + "…");
      list.append(item);
    }
    $("replace-all").disabled = data.count === 0;
    $("replace-all").dataset.count = data.count;
  });

  $("matches").addEventListener("click", (event) => {
    const at = event.target.closest("button.at");
    const node = at && $("s" + at.dataset.id);
    if (node) { select(node, true); seek(Number(node.dataset.s), false); }
  });

  for (const id of ["find", "whole"]) {
    $(id).addEventListener("input", () => { $("replace-all").disabled = true; });
  }

  $("replace-all").addEventListener("click", async () => {
    const payload = findPayload();
    try {
      await op({ op: "replace", find: payload.find, whole_word: payload.whole_word, text: $("replace").value });
      say(`replaced ${$("replace-all").dataset.count}`);
    } catch (e) { return; }
    $("matches").replaceChildren();
    $("match-count").textContent = "";
    $("replace-all").disabled = true;
  });

  // ---------------------------------------------------------------- import and decision

  $("import").addEventListener("change", async (event) => {
    const file = event.target.files[0];
    if (!file) return;
    const text = await file.text();
    event.target.value = "";
    op({ op: "import", text }).then(() => say("imported")).catch(() => {});
  });

  function showState(state) {
    const node = $("state");
    node.textContent = state.replace(/_/g, " ");
    node.className = "state st-" + state;
  }

  // Approving with items left to check takes a second, deliberate click.
  function askToConfirm(left) {
    $("confirm-left").textContent = left;
    $("confirm").hidden = false;
    $("approve-anyway").focus();
  }

  async function approve(anyway) {
    try {
      await queue;
      const data = await post("approve", { anyway });
      $("confirm").hidden = true;
      showState(data.state);
      say("approved: publishing starts");
    } catch (e) {
      if (e.data && e.data.left) askToConfirm(e.data.left);
    }
  }

  $("approve").addEventListener("click", async () => {
    await queue;
    const left = Number($("todo").textContent);
    if (left > 0) askToConfirm(left); else approve(false);
  });
  $("approve-anyway").addEventListener("click", () => approve(true));
  $("confirm-next").addEventListener("click", () => {
    $("confirm").hidden = true;
    nextTodo();
  });

  $("send-note").addEventListener("click", async () => {
    try {
      const data = await post("request-changes", { note: $("note").value });
      showState(data.state);
      $("changes").open = false;
      say("sent back with your note");
    } catch (e) { /* message shown */ }
  });

  index();
})();
