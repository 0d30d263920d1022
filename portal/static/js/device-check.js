// The device check before a video visit: camera preview, microphone level, a test tone
// for the speaker (made with WebAudio, no audio file) and a round trip to the server.
// Each gives a plain pass or fail line. Nothing is sent anywhere; the choice of devices
// ("Join with") is kept in sessionStorage for the call page (video-visit.js).
(function () {
  "use strict";

  const root = document.querySelector("[data-device-check]");
  const textNode = document.getElementById("device-check-text");
  if (!root || !textNode) {
    return;
  }
  const text = JSON.parse(textNode.textContent);
  const MEDIA_KEY = "video-visit-media";
  const MIC_THRESHOLD = 4;
  const MIC_WAIT_MS = 10000;
  const SLOW_MS = 1000;

  const startButton = root.querySelector("[data-check-start]");
  const soundButton = root.querySelector("[data-check-sound]");
  const heard = root.querySelector("[data-check-heard]");
  const preview = document.getElementById("check-preview");
  const meter = document.getElementById("check-level");
  const status = document.getElementById("check-status");
  const joinForm = document.querySelector("[data-join-form]");

  let stream = null;
  let audioContext = null;
  let micTimer = null;
  let micHeard = false;

  function result(id, outcome, message) {
    const node = document.getElementById(id);
    node.dataset.result = outcome;
    node.textContent = message;
  }

  function announce(message) {
    status.textContent = message;
  }

  function showMessage(name) {
    for (const node of root.querySelectorAll("[data-check-message]")) {
      node.hidden = node.dataset.checkMessage !== name;
    }
  }

  function chooseMedia(value) {
    const radio = joinForm ? joinForm.querySelector(`input[name=media][value=${value}]`) : null;
    if (radio) {
      radio.checked = true;
    }
  }

  function supported() {
    return Boolean(window.RTCPeerConnection && navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
  }

  function audio() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!audioContext && Context) {
      audioContext = new Context();
    }
    if (audioContext && audioContext.state === "suspended") {
      audioContext.resume();
    }
    return audioContext;
  }

  // Camera and microphone ---------------------------------------------------------------

  async function start() {
    startButton.disabled = true;
    showMessage("");
    result("check-camera", "pending", text.checking);
    result("check-microphone", "pending", text.checking);
    stopStream();
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: true, audio: true });
    } catch (error) {
      await withoutCamera(error);
      startButton.disabled = false;
      return;
    }
    chooseMedia("full");
    checkCamera();
    checkMicrophone();
    startButton.disabled = false;
  }

  async function withoutCamera(error) {
    const name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError") {
      showMessage("blocked");
      result("check-camera", "fail", text.blocked);
      result("check-microphone", "fail", text.blocked);
      chooseMedia("none");
      announce(text.blocked);
      return;
    }
    // No camera (or it is in use elsewhere): the microphone alone may still work.
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      result("check-camera", "fail", text.missing);
      chooseMedia("audio");
      checkMicrophone();
    } catch (second) {
      showMessage("missing");
      result("check-camera", "fail", text.missing);
      result("check-microphone", "fail", text.missing);
      chooseMedia("none");
      announce(text.missing);
    }
  }

  function checkCamera() {
    preview.srcObject = stream;
    const passed = () => {
      if (preview.videoWidth > 0) {
        result("check-camera", "pass", text.cameraPass);
        return true;
      }
      return false;
    };
    preview.addEventListener("loadeddata", passed, { once: true });
    window.setTimeout(() => {
      if (!passed()) {
        result("check-camera", "fail", text.cameraFail);
      }
    }, 5000);
  }

  function checkMicrophone() {
    const context = audio();
    if (!context || !stream.getAudioTracks().length) {
      result("check-microphone", "fail", text.missing);
      return;
    }
    const analyser = context.createAnalyser();
    analyser.fftSize = 1024;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Float32Array(analyser.fftSize);
    const started = Date.now();
    micHeard = false;
    result("check-microphone", "pending", text.micListening);
    window.clearInterval(micTimer);
    micTimer = window.setInterval(() => {
      analyser.getFloatTimeDomainData(samples);
      let sum = 0;
      for (const sample of samples) {
        sum += sample * sample;
      }
      const level = Math.min(100, Math.round(Math.sqrt(sum / samples.length) * 300));
      meter.value = level;
      meter.textContent = String(level);
      if (level >= MIC_THRESHOLD && !micHeard) {
        micHeard = true;
        result("check-microphone", "pass", text.micPass);
      } else if (!micHeard && Date.now() - started > MIC_WAIT_MS) {
        result("check-microphone", "fail", text.micFail);
      }
    }, 100);
  }

  function stopStream() {
    window.clearInterval(micTimer);
    if (stream) {
      for (const track of stream.getTracks()) {
        track.stop();
      }
      stream = null;
    }
  }

  // Speaker -----------------------------------------------------------------------------

  function playTone() {
    const context = audio();
    if (!context) {
      result("check-speaker", "fail", text.unsupported);
      return;
    }
    const oscillator = context.createOscillator();
    const gain = context.createGain();
    oscillator.frequency.value = 440;
    gain.gain.value = 0.2;
    oscillator.connect(gain).connect(context.destination);
    oscillator.start();
    oscillator.stop(context.currentTime + 1);
    result("check-speaker", "pending", text.speakerPlaying);
    heard.hidden = false;
  }

  function answerHeard(event) {
    const button = event.target.closest("[data-heard]");
    if (!button) {
      return;
    }
    const yes = button.dataset.heard === "yes";
    result("check-speaker", yes ? "pass" : "fail", yes ? text.speakerPass : text.speakerFail);
    heard.hidden = true;
    soundButton.focus();
  }

  // Connection: a few round trips to the server, the best one counts --------------------

  async function checkConnection() {
    result("check-connection", "pending", text.checking);
    let best = Infinity;
    for (let attempt = 0; attempt < 3; attempt += 1) {
      const began = performance.now();
      try {
        const response = await fetch(root.dataset.pingUrl, { cache: "no-store", credentials: "same-origin" });
        if (response.ok) {
          best = Math.min(best, performance.now() - began);
        }
      } catch (error) {
        // counted as a failed attempt
      }
    }
    if (best === Infinity) {
      result("check-connection", "fail", text.connectionFail);
      return;
    }
    const ms = String(Math.round(best));
    const slow = best > SLOW_MS;
    result(
      "check-connection",
      slow ? "fail" : "pass",
      (slow ? text.connectionSlow : text.connectionPass).replace("%(ms)s", ms),
    );
  }

  // Wiring ------------------------------------------------------------------------------

  if (!supported()) {
    showMessage("unsupported");
    result("check-camera", "fail", text.unsupported);
    result("check-microphone", "fail", text.unsupported);
    chooseMedia("none");
  } else {
    startButton.disabled = false;
    startButton.addEventListener("click", start);
  }
  soundButton.disabled = false;
  soundButton.addEventListener("click", playTone);
  heard.addEventListener("click", answerHeard);
  checkConnection();

  if (joinForm) {
    joinForm.addEventListener("submit", () => {
      const choice = joinForm.querySelector("input[name=media]:checked");
      try {
        window.sessionStorage.setItem(MEDIA_KEY, choice ? choice.value : "full");
      } catch (error) {
        // Private browsing may refuse storage: the call page then asks for both devices.
      }
      stopStream();
    });
  }
  window.addEventListener("pagehide", stopStream);
})();
