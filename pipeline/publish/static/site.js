// diptych episode page: play passages, follow the audio. No network access: it reads the page only,
// so that it works from a web server and from a file.
(function () {
  "use strict";
  var audio = document.querySelector(".player audio");
  if (!audio) { return; }
  var stopAt = null;

  function timed(selector) {
    return Array.prototype.map.call(document.querySelectorAll(selector), function (el) {
      return { el: el, start: parseFloat(el.dataset.start), end: parseFloat(el.dataset.end) };
    });
  }
  var tracks = [
    { items: timed(".transcript li[data-start]"), follow: true },
    { items: timed(".chapters li[data-start]"), follow: false },
    { items: timed(".article [data-start][data-end]"), follow: false }
  ];

  function seek(start, end) {
    audio.currentTime = start;
    stopAt = isFinite(end) ? end : null;
    var playing = audio.play();
    if (playing && playing.catch) { playing.catch(function () {}); }
    update();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.play, a.seek");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey) { return; }
    event.preventDefault();
    var end = link.classList.contains("play") ? parseFloat(link.dataset.end) : NaN;
    seek(parseFloat(link.dataset.start), end);
  });

  function mark(track, now) {
    track.items.forEach(function (item) {
      var on = now >= item.start && now < item.end;
      if (on === item.el.classList.contains("current")) { return; }
      item.el.classList.toggle("current", on);
      if (on) { item.el.setAttribute("aria-current", "true"); } else { item.el.removeAttribute("aria-current"); }
      if (on && track.follow && !audio.paused) { keepVisible(item.el); }
    });
  }

  function keepVisible(el) {
    var box = el.closest("ol");
    if (!box || !el.offsetParent) { return; }
    var panel = el.closest(".listen-panel");
    if (panel && panel.scrollHeight > panel.clientHeight) {
      var top = el.offsetTop - panel.clientHeight / 3;
      panel.scrollTop = Math.max(0, top);
    }
  }

  function update() {
    var now = audio.currentTime;
    if (stopAt !== null && now >= stopAt) { audio.pause(); stopAt = null; }
    tracks.forEach(function (track) { mark(track, now); });
  }
  audio.addEventListener("timeupdate", update);
  audio.addEventListener("seeked", update);
  audio.addEventListener("pause", function () { if (audio.currentTime < (stopAt || 0)) { stopAt = null; } });
})();

// Sharing and finding: "#t=1:23" in the address starts there, a button copies the link to the
// current moment, another the feed's address; the transcript can be searched.
(function () {
  "use strict";
  var audio = document.querySelector(".player audio");

  function parseTime(text) {
    var value = decodeURIComponent(text || "").replace(/^npt:/, "").split(",")[0];
    if (!/^\d+(:\d{1,2}){0,2}(\.\d+)?$/.test(value)) { return NaN; }
    return value.split(":").reduce(function (total, part) { return total * 60 + parseFloat(part); }, 0);
  }

  function clock(seconds) {
    var whole = Math.max(0, Math.floor(seconds));
    var h = Math.floor(whole / 3600), m = Math.floor((whole % 3600) / 60), s = whole % 60;
    var ss = (s < 10 ? "0" : "") + s;
    return h ? h + ":" + (m < 10 ? "0" : "") + m + ":" + ss : m + ":" + ss;
  }

  function startFromAddress() {
    var match = /(?:^#|&)t=([^&]+)/.exec(location.hash);
    var at = match ? parseTime(match[1]) : NaN;
    if (!audio || !isFinite(at)) { return; }
    var go = function () { audio.currentTime = at; };
    if (audio.readyState >= 1) { go(); } else { audio.addEventListener("loadedmetadata", go, { once: true }); }
  }
  startFromAddress();
  window.addEventListener("hashchange", startFromAddress);

  function say(button, text) {
    var box = button.closest(".player, .subscribe");
    var status = box && box.querySelector(".status");
    if (status) { status.textContent = text; }
  }

  function copy(button, text, done) {
    var shown = function () { say(button, done + " — " + text); };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(text).then(shown, function () { say(button, text); });
    } else {
      say(button, text);
    }
  }

  function pageAddress() {
    var canonical = document.querySelector('link[rel="canonical"]');
    var here = canonical ? canonical.href : location.href.split("#")[0];
    return here.replace(/embed\.html$/, "");
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.share-moment, button.copy-feed");
    if (!button) { return; }
    if (button.classList.contains("copy-feed")) {
      copy(button, new URL(button.dataset.url, location.href).href, button.dataset.done);
    } else if (audio) {
      copy(button, pageAddress() + "#t=" + clock(audio.currentTime), button.dataset.done);
    }
  });

  var search = document.getElementById("transcript-search");
  if (search) {
    var items = Array.prototype.slice.call(document.querySelectorAll(".transcript li"));
    var count = document.getElementById("search-count");
    var fold = function (text) { return text.toLowerCase().normalize("NFD").replace(/[\u0300-\u036f]/g, ""); };
    var texts = items.map(function (li) { return fold(li.textContent); });
    search.addEventListener("input", function () {
      var wanted = fold(search.value.trim());
      var shown = 0;
      items.forEach(function (li, i) {
        var on = !wanted || texts[i].indexOf(wanted) !== -1;
        li.hidden = !on;
        if (on) { shown += 1; }
      });
      count.textContent = wanted ? search.dataset.count.replace("{n}", shown).replace("{total}", items.length) : "";
    });
  }
})();
