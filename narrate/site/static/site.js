// narrate's page script: copy buttons; on an episode page, the transcript follows the audio and seeks.
// Everything works without it: the transcript, chapters and audio are plain HTML.
(function () {
  "use strict";
  var status = document.querySelector(".status");

  function say(text) {
    if (!status) return;
    status.textContent = text;
    clearTimeout(say.timer);
    say.timer = setTimeout(function () { status.textContent = ""; }, 2500);
  }

  function copy(text) {
    function fallback() {
      var area = document.createElement("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      var done = false;
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      document.body.removeChild(area);
      if (done) say("Link copied"); else window.prompt("Copy this link:", text);
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { say("Link copied"); }, fallback);
    } else {
      fallback();
    }
  }

  document.querySelectorAll("button[data-copy]").forEach(function (b) { b.hidden = false; });

  var audio = document.querySelector("audio[data-player]");
  var cues = Array.prototype.slice.call(document.querySelectorAll(".cue[data-start]"));
  var starts = cues.map(function (c) { return parseFloat(c.getAttribute("data-start")); });
  var here = location.href.split("#")[0];

  cues.forEach(function (cue) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "copy";
    b.textContent = "Copy link";
    b.setAttribute("data-copy", here + "#t=" + cue.getAttribute("data-start"));
    b.setAttribute("aria-label", "Copy link to " + cue.querySelector(".t").textContent);
    cue.appendChild(b);
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (button) { copy(button.getAttribute("data-copy")); return; }
    if (!audio) return;
    var chapter = event.target.closest("a[data-start]");
    if (chapter) { seek(parseFloat(chapter.getAttribute("data-start")), true); return; }  // the link scrolls
    var cue = event.target.closest(".cue[data-start]");
    if (!cue) return;
    var link = event.target.closest("a");
    if (link && !link.classList.contains("t")) return;  // a link in the text goes where it says
    var selection = window.getSelection && window.getSelection();
    if (!link && selection && !selection.isCollapsed) return;  // selecting text, not seeking
    event.preventDefault();
    seek(parseFloat(cue.getAttribute("data-start")), true);
  });

  if (!audio) return;

  var current = null;
  var scrolledAt = -Infinity;
  var calm = window.matchMedia("(prefers-reduced-motion: reduce)");

  function indexAt(time) {
    // The last cue that has started: it stays current through the pause after it.
    var low = 0, high = starts.length - 1, found = -1;
    while (low <= high) {
      var mid = (low + high) >> 1;
      if (starts[mid] <= time + 0.0005) { found = mid; low = mid + 1; } else { high = mid - 1; }
    }
    return found;
  }

  function inView(element) {
    var box = element.getBoundingClientRect();
    return box.bottom > 0 && box.top < (window.innerHeight || document.documentElement.clientHeight);
  }

  function show(element, smooth) {
    scrolledAt = Date.now();
    // "instant", not "auto": the page's CSS asks for smooth scrolling, which reduced motion must not get.
    element.scrollIntoView({ block: "center", behavior: smooth && !calm.matches ? "smooth" : "instant" });
  }

  function update() {
    var index = indexAt(audio.currentTime);
    var next = index < 0 ? null : cues[index];
    if (next === current) return;
    // Follow only a reader who is following: the last current cue was in view (or we just scrolled to it).
    var following = current !== null && (inView(current) || Date.now() - scrolledAt < 1000);
    if (current) current.removeAttribute("aria-current");
    current = next;
    if (!next) return;
    next.setAttribute("aria-current", "true");
    if (following) show(next, true);
  }

  var frame = 0;
  function tick() {
    update();
    frame = audio.paused ? 0 : window.requestAnimationFrame(tick);
  }
  audio.addEventListener("play", function () { if (!frame) frame = window.requestAnimationFrame(tick); });
  ["pause", "seeked", "timeupdate", "loadedmetadata"].forEach(function (name) {
    audio.addEventListener(name, function () { update(); });
  });

  function seek(time, play) {
    function go() {
      audio.currentTime = time;
      update();
      if (play) { var p = audio.play(); if (p && p.catch) p.catch(function () {}); }
    }
    if (audio.readyState >= 1) go(); else audio.addEventListener("loadedmetadata", go, { once: true });
  }

  // #t=90, #t=1:30, #t=1:02:03 (and 90.5): start there.
  function fromHash() {
    var match = /^#t=(?:(\d+):)?(?:(\d+):)?(\d+(?:\.\d+)?)$/.exec(location.hash);
    if (!match) return;
    var parts = [match[1], match[2], match[3]].filter(function (p) { return p !== undefined; }).map(parseFloat);
    var time = parts.reduce(function (total, p) { return total * 60 + p; }, 0);
    seek(time, false);
    var index = indexAt(time);
    if (index >= 0) {
      if (current) current.removeAttribute("aria-current");
      current = cues[index];
      current.setAttribute("aria-current", "true");
      show(current, false);
    }
  }
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
