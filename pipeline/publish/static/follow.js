// diptych episode page, follow-along mode: while the episode plays, the article's sentence being
// read is highlighted (the whole passage where the episode retells it in other words), and a click
// on a sentence plays from it. The times come from pairing.json, put on each read block as
// data-sentences='[[start_s, end_s, "text"], ...]'; the sentences are found in the block's text here.
// No network access: it reads the page only.
(function () {
  "use strict";
  var audio = document.querySelector(".player audio");
  var article = document.querySelector(".article");
  if (!audio || !article) { return; }
  var french = (document.documentElement.lang || "").slice(0, 2) === "fr";
  var LABEL = french ? "Suivre la lecture" : "Follow along";
  var on = false;
  var current = null;

  function normalized(text) {
    return text.replace(/[\s\u00a0\u202f]+/g, " ");
  }

  // The block's text nodes (its ▶ link left out), and the block's text with spaces collapsed,
  // each of its characters knowing the node and offset it comes from.
  function textMap(block) {
    var walker = document.createTreeWalker(block, NodeFilter.SHOW_TEXT, {
      acceptNode: function (node) {
        return node.parentNode.closest(".blk-play, a.play") ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT;
      }
    });
    var text = "", where = [], node, space = true;
    while ((node = walker.nextNode())) {
      for (var i = 0; i < node.data.length; i++) {
        var isSpace = /[\s\u00a0\u202f]/.test(node.data[i]);
        if (isSpace && space) { continue; }
        text += isSpace ? " " : node.data[i];
        where.push([node, i]);
        space = isSpace;
      }
    }
    return { text: text, where: where };
  }

  // Wrap the characters [from, to) of the map in spans (one per text node they cross).
  function wrap(map, from, to, start, end) {
    var pieces = [];
    for (var k = from; k < to; k++) {
      var node = map.where[k][0], offset = map.where[k][1];
      var last = pieces[pieces.length - 1];
      if (last && last.node === node) { last.to = offset + 1; } else { pieces.push({ node: node, from: offset, to: offset + 1 }); }
    }
    var spans = [];
    pieces.reverse().forEach(function (piece) {
      var middle = piece.node.splitText(piece.from);
      middle.splitText(piece.to - piece.from);
      var span = document.createElement("span");
      span.className = "snt";
      span.dataset.start = start;
      span.dataset.end = end;
      middle.parentNode.replaceChild(span, middle);
      span.appendChild(middle);
      spans.unshift(span);
    });
    return spans;
  }

  var sentences = [];
  Array.prototype.forEach.call(article.querySelectorAll("[data-sentences]"), function (block) {
    var list;
    try { list = JSON.parse(block.dataset.sentences); } catch (e) { return; }
    var map = textMap(block);
    var found = [], cursor = 0;
    list.forEach(function (s) {
      var at = map.text.indexOf(normalized(s[2]).trim(), cursor);
      if (at < 0) { return; }
      found.push({ from: at, to: at + normalized(s[2]).trim().length, start: s[0], end: s[1] });
      cursor = at + 1;
    });
    // Last first: splitting a text node keeps the offsets before the split as they were.
    found.reverse().forEach(function (f) {
      sentences.push({ spans: wrap(map, f.from, f.to, f.start, f.end), start: f.start, end: f.end, block: block });
    });
  });
  sentences.sort(function (a, b) { return a.start - b.start; });
  var retold = Array.prototype.filter.call(article.querySelectorAll(".blk[data-start]"), function (block) {
    return !block.hasAttribute("data-sentences");
  }).map(function (block) {
    return { spans: [block], start: parseFloat(block.dataset.start), end: parseFloat(block.dataset.end), block: block };
  });
  var passages = sentences.concat(retold);

  var button = document.createElement("button");
  button.type = "button";
  button.className = "button follow";  // styled by site.css, as the page's other buttons
  button.textContent = LABEL;
  button.setAttribute("aria-pressed", "false");
  var player = document.querySelector(".player");
  player.parentNode.insertBefore(button, player.nextSibling);

  function show(passage) {
    if (passage === current) { return; }
    if (current) { current.spans.forEach(function (el) { el.classList.remove("reading"); }); }
    current = passage;
    if (!passage) { return; }
    passage.spans.forEach(function (el) { el.classList.add("reading"); });
    if (!audio.paused && passage.spans[0].scrollIntoView) {
      passage.spans[0].scrollIntoView({ block: "center", behavior: "smooth" });
    }
  }

  function update() {
    if (!on) { return; }
    var now = audio.currentTime, found = null;
    for (var i = 0; i < passages.length; i++) {
      var p = passages[i];
      if (now >= p.start && now < p.end && (!found || p.start > found.start)) { found = p; }
    }
    show(found);
  }

  button.addEventListener("click", function () {
    on = !on;
    button.setAttribute("aria-pressed", on ? "true" : "false");
    article.classList.toggle("follow-on", on);
    if (!on) { show(null); } else { update(); }
  });

  article.addEventListener("click", function (event) {
    if (!on || event.target.closest("a")) { return; }
    var span = event.target.closest(".snt");
    var from = span ? parseFloat(span.dataset.start) : NaN;
    if (!span) {
      var block = event.target.closest(".blk[data-start]");
      if (!block || block.hasAttribute("data-sentences")) { return; }
      from = parseFloat(block.dataset.start);
    }
    audio.currentTime = from;
    var playing = audio.play();
    if (playing && playing.catch) { playing.catch(function () {}); }
    update();
  });

  audio.addEventListener("timeupdate", update);
  audio.addEventListener("seeked", update);
})();
