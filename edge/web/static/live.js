// Live station view: the zone picture refreshes a few times a second, verdicts arrive as
// server-sent events and update the banner at once; the tray's counts follow.
(function () {
  "use strict";
  const stations = {};
  document.querySelectorAll(".station").forEach(function (el) {
    stations[el.dataset.camera] = el;
  });
  let beep = null;
  function sound() {
    if (document.body.dataset.sound !== "on") return;
    try {
      beep = beep || new (window.AudioContext || window.webkitAudioContext)();
      const o = beep.createOscillator(), g = beep.createGain();
      o.frequency.value = 880; o.connect(g); g.connect(beep.destination);
      g.gain.setValueAtTime(0.3, beep.currentTime); o.start(); o.stop(beep.currentTime + 0.4);
    } catch (e) { /* no audio device */ }
  }
  function renderCounts(el, expected, seen) {
    const body = el.querySelector("[data-role=counts] tbody");
    const items = Array.from(new Set(Object.keys(expected || {}).concat(Object.keys(seen || {})))).sort();
    body.innerHTML = "";
    items.forEach(function (item) {
      const tr = document.createElement("tr");
      const e = (expected || {})[item] || 0, s = (seen || {})[item] || 0;
      if (e !== s) tr.className = "bad";
      [item, e, s].forEach(function (v) { const td = document.createElement("td"); td.textContent = v; tr.appendChild(td); });
      body.appendChild(tr);
    });
  }
  function showVerdict(ev) {
    const el = stations[ev.camera];
    if (!el) return;
    const banner = el.querySelector("[data-role=banner]");
    banner.textContent = ev.banner;
    banner.className = "banner " + ev.verdict;
    banner.dataset.verdictId = ev.id;
    banner.dataset.verdictAt = ev.at_unix;  // when the box decided: the tests measure banner delay from it
    el.querySelector("[data-role=order]").textContent = ev.order_id ? "#" + ev.order_id : "";
    renderCounts(el, ev.expected, ev.seen);
    if (ev.verdict === "mismatch") {
      banner.classList.add("flash");
      sound();
    }
  }
  if (window.EventSource) {
    const source = new EventSource("/api/events");
    source.addEventListener("verdict", function (msg) { showVerdict(JSON.parse(msg.data)); });
  }
  function poll() {
    Object.keys(stations).forEach(function (cam) {
      const el = stations[cam];
      const img = el.querySelector("[data-role=frame]");
      img.src = "/api/frame/" + encodeURIComponent(cam) + ".jpg?t=" + Date.now();
      fetch("/api/live/" + encodeURIComponent(cam), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (s) {
          if (!s) return;
          el.querySelector("[data-role=state]").textContent = s.state;
          const health = el.querySelector("[data-role=health]");
          if (health && s.health) {  // the camera cannot see: said above everything else, until it can again
            health.hidden = !s.health.text;
            health.textContent = s.health.text || "";
            health.className = "camera-health " + s.health.state;
          }
          const banner = el.querySelector("[data-role=banner]");
          if (!s.tray) {
            if (banner.className.indexOf("idle") < 0 && s.state === "empty") {
              banner.className = "banner idle"; banner.textContent = "Waiting for a tray";
              el.querySelector("[data-role=order]").textContent = "";
              renderCounts(el, {}, {});
            }
            return;
          }
          if (s.tray.verdict && banner.textContent.trim() !== s.tray.banner) {
            banner.className = "banner " + s.tray.verdict; banner.textContent = s.tray.banner;  // missed event
          }
          if (!s.tray.verdict) {
            banner.className = "banner idle"; banner.textContent = "Checking…";
            el.querySelector("[data-role=order]").textContent = s.tray.order_id ? "#" + s.tray.order_id : "";
          }
          renderCounts(el, s.tray.expected, s.tray.seen);
        })
        .catch(function () {});
    });
  }
  setInterval(poll, 400);
})();
