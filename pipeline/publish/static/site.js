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
