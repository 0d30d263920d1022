// The video visit's call, shared by the patient's page and the staff page.
//
// The page gives its configuration in #video-config (portal/telehealth/call.py). This
// script polls the server for the visit's state, the peers to connect to, their
// signaling and the chat; it swaps the waiting room for the call when the person is
// admitted, and back when the host sends them to the waiting room, without a reload. Media go browser to browser: one RTCPeerConnection per
// admitted peer, "perfect negotiation" (the side with the larger participant id is the
// polite one), candidates trickled through the server.
//
// Page hooks (all optional except #video-config and the call UI):
//   #video-waiting, #video-place, #video-host-seen, #video-waiting-status: the waiting room
//   [data-video-ended], [data-video-left]: shown when the visit ends / the person has left
//   [data-video-waiting-list]: a <ul> the staff page fills with who is waiting (the host's
//     with an "Admit" form for each, posting participant=<id> to config.admitUrl)
//   [data-video-peer-list]: a <ul> the staff page fills with who else is in the call (the
//     host's with "Send back to the waiting room" for each on the patient's side)
//   form[data-video-action]: submitted with fetch, then the page polls again
//   document event "videovisit:poll" (detail: the poll's JSON) for page-specific updates
// window.videoVisit.framesDecoded() sums inbound video frames decoded (the browser test reads it).
(function () {
  "use strict";

  const configNode = document.getElementById("video-config");
  if (!configNode) {
    return;
  }
  const config = JSON.parse(configNode.textContent);
  const text = config.text || {};
  const MEDIA_KEY = "video-visit-media";
  const STALL_MS = 5000;
  const MAX_BACKOFF_MS = 15000;

  const callSection = document.getElementById("video-call");
  const waitingSection = document.getElementById("video-waiting");
  const tiles = document.getElementById("video-tiles");
  const localVideo = document.getElementById("video-local");
  const muteButton = document.getElementById("video-mute");
  const cameraButton = document.getElementById("video-camera");
  const shareButton = document.getElementById("video-share");
  const chatForm = document.getElementById("video-chat-form");
  const chatLog = document.getElementById("video-chat-log");
  const chatEmpty = document.getElementById("video-chat-empty");
  const indicator = document.getElementById("video-indicator");
  const indicatorText = document.getElementById("video-indicator-text");

  const sessionId = newSessionId();
  const peers = new Map();
  let claimed = false;
  let stopped = false;
  let failures = 0;
  let pollTimer = null;
  let polling = false;
  let pollAgain = false;
  let afterSignal = 0;
  let afterChat = 0;
  let localStream = null;
  let localMedia = null;
  let screenTrack = null;
  let lastFrames = 0;
  let indicatorTimer = null;
  let inCall = false;

  // Utilities ---------------------------------------------------------------------------

  function newSessionId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    const bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function format(template, values) {
    return String(template || "").replace(/%\((\w+)\)s/g, (_, key) => String(values[key] ?? ""));
  }

  function csrfToken() {
    const input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function setStatus(message) {
    for (const id of ["video-status", "video-waiting-status"]) {
      const node = document.getElementById(id);
      if (node && node.textContent !== message) {
        node.textContent = message;
      }
    }
  }

  function show(node, visible) {
    if (node) {
      node.hidden = !visible;
    }
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(body),
    });
  }

  function webrtcSupported() {
    return Boolean(
      window.RTCPeerConnection && navigator.mediaDevices && navigator.mediaDevices.getUserMedia,
    );
  }

  // Polling -----------------------------------------------------------------------------

  function schedule() {
    if (stopped) {
      return;
    }
    window.clearTimeout(pollTimer);
    const base = config.pollMs || 1000;
    const delay = failures ? Math.min(base * 2 ** failures, MAX_BACKOFF_MS) : base;
    pollTimer = window.setTimeout(poll, delay);
  }

  function pollNow() {
    window.clearTimeout(pollTimer);
    poll();
  }

  async function poll() {
    if (stopped) {
      return;
    }
    if (polling) {
      pollAgain = true;
      return;
    }
    polling = true;
    try {
      const params = new URLSearchParams({ session: sessionId, after: afterSignal, chat_after: afterChat });
      if (!claimed) {
        params.set("claim", "1");
      }
      const response = await fetch(config.api.poll + "?" + params.toString(), {
        credentials: "same-origin",
        cache: "no-store",
        // The server refuses a poll without this header: a link or a form on another site
        // cannot set it, so it cannot claim this seat from under the page.
        headers: { Accept: "application/json", "X-Video-Poll": "1" },
      });
      if (response.status === 404 || response.status === 403) {
        finish("removed");
        return;
      }
      if (response.status === 401 || response.redirected) {
        finish("signedOut");
        return;
      }
      if (!response.ok) {
        throw new Error("poll answered " + response.status);
      }
      const data = await response.json();
      claimed = true;
      if (failures) {
        failures = 0;
        setStatus(inCall ? text.reconnected : text.waiting);
      }
      await handle(data);
    } catch (error) {
      failures += 1;
      setStatus(text.reconnecting);
    } finally {
      polling = false;
      if (pollAgain) {
        pollAgain = false;
        window.setTimeout(poll, 0);
      } else {
        schedule();
      }
    }
  }

  async function handle(data) {
    if (!data.me.current) {
      finish("otherWindow");
      return;
    }
    renderWaitingList(data.waiting || []);
    if (data.me.status === "admitted") {
      renderPeerList(data.peers || []);
    }
    document.dispatchEvent(new CustomEvent("videovisit:poll", { detail: data }));
    if (data.visit.status === "ended") {
      finish("ended");
      return;
    }
    if (data.me.status === "left" || data.me.status === "removed") {
      finish(data.me.status);
      return;
    }
    if (data.me.status === "waiting") {
      if (inCall) {
        backToWaitingRoom();
      }
      showWaiting(data.me);
      return;
    }
    if (data.me.status === "admitted") {
      await enterCall();
      if (webrtcSupported()) {
        syncPeers(data.peers || []);
        for (const signal of data.signals || []) {
          afterSignal = Math.max(afterSignal, signal.id);
          await handleSignal(signal);
        }
      }
      renderChat(data.chat || []);
    }
  }

  // Stop for good: the visit ended, the person left or lost their place, or another window took over.
  function finish(reason) {
    stopped = true;
    window.clearTimeout(pollTimer);
    window.clearInterval(indicatorTimer);
    for (const peer of peers.values()) {
      closePeer(peer);
    }
    peers.clear();
    stopLocalMedia();
    setControlsEnabled(false);
    if (chatForm) {
      for (const control of chatForm.elements) {
        control.disabled = true;
      }
    }
    setStatus(text[reason] || text.ended);
    const ended = document.querySelector("[data-video-ended]");
    const left = document.querySelector("[data-video-left]");
    const panel = reason === "ended" ? ended : reason === "left" ? left : null;
    if (panel) {
      show(waitingSection, false);
      show(callSection, false);
      show(panel, true);
      const heading = panel.querySelector("h2");
      if (heading) {
        heading.setAttribute("tabindex", "-1");
        heading.focus();
      }
    }
    document.dispatchEvent(new CustomEvent("videovisit:stopped", { detail: { reason: reason } }));
  }

  // The waiting room --------------------------------------------------------------------

  function showWaiting(me) {
    show(waitingSection, true);
    const place = document.getElementById("video-place");
    if (place) {
      const line = me.place === 1 ? text.placeOne : me.place ? format(text.place, { place: me.place }) : "";
      if (line && place.textContent !== line) {
        place.textContent = line;
      }
    }
    const seen = document.getElementById("video-host-seen");
    if (seen) {
      const line = me.host_seen ? text.hostSeen : text.hostTold;
      if (seen.textContent !== line) {
        seen.textContent = line;
      }
    }
  }

  // A form the document's submit handler sends with fetch (see "Staff actions" below).
  function actionForm(url, action, person, label) {
    const form = document.createElement("form");
    form.method = "post";
    form.action = url;
    form.dataset.videoAction = action;
    const token = document.createElement("input");
    token.type = "hidden";
    token.name = "csrfmiddlewaretoken";
    token.value = csrfToken();
    const who = document.createElement("input");
    who.type = "hidden";
    who.name = "participant";
    who.value = String(person.id);
    const button = document.createElement("button");
    button.type = "submit";
    button.className = "button-secondary";
    const name = document.createElement("span");
    name.className = "visually-hidden";
    name.textContent = ": " + person.name;
    button.append(label, name);
    form.append(token, who, button);
    return form;
  }

  function personItem(line, form) {
    const item = document.createElement("li");
    const main = document.createElement("div");
    main.className = "item-main";
    const paragraph = document.createElement("p");
    paragraph.textContent = line;
    main.append(paragraph);
    item.append(main);
    if (form) {
      item.append(form);
    }
    return item;
  }

  // Redraw a list when what it shows changed; focus inside it moves to its section's heading.
  function redraw(list, key, items) {
    if (list.dataset.key === key) {
      return;
    }
    list.dataset.key = key;
    const hadFocus = list.contains(document.activeElement);
    list.replaceChildren(...items);
    const section = hadFocus ? list.closest("section") : null;
    const heading = section ? section.querySelector("h2") : null;
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }

  function renderWaitingList(waiting) {
    const list = document.querySelector("[data-video-waiting-list]");
    if (!list) {
      return;
    }
    const key = JSON.stringify(waiting.map((person) => [person.id, person.name]));
    redraw(
      list,
      key,
      waiting.map((person) =>
        personItem(person.name, config.admitUrl ? actionForm(config.admitUrl, "admit-one", person, text.admit) : null),
      ),
    );
    show(document.querySelector("[data-video-waiting-empty]"), waiting.length === 0);
  }

  function renderPeerList(list) {
    const node = document.querySelector("[data-video-peer-list]");
    if (!node) {
      return;
    }
    const names = config.roleNames || {};
    const key = JSON.stringify(list.map((peer) => [peer.id, peer.name, peer.role]));
    redraw(
      node,
      key,
      list.map((peer) => {
        const removable = config.removeUrl && peer.side === "patient";
        return personItem(
          peer.name + " · " + (names[peer.role] || peer.role),
          removable ? actionForm(config.removeUrl, "remove", peer, text.sendBack) : null,
        );
      }),
    );
    show(document.querySelector("[data-video-peers-empty]"), list.length === 0);
  }

  // The call ----------------------------------------------------------------------------

  async function enterCall() {
    if (inCall) {
      return;
    }
    inCall = true;
    show(waitingSection, false);
    show(callSection, true);
    setStatus(config.side === "patient" ? text.admitted : text.connecting);
    if (chatForm) {
      for (const control of chatForm.elements) {
        control.disabled = false;
      }
    }
    if (!webrtcSupported()) {
      setStatus(text.noWebrtc);
      return;
    }
    if (await startLocalMedia()) {
      setStatus(text.waitingForOthers);
    }
    indicatorTimer = window.setInterval(updateIndicator, 2000);
  }

  // The host sent this person back to the waiting room: drop every connection and the
  // devices, and wait to be admitted again (enterCall starts over then).
  function backToWaitingRoom() {
    inCall = false;
    window.clearInterval(indicatorTimer);
    for (const peer of peers.values()) {
      closePeer(peer);
    }
    peers.clear();
    stopLocalMedia();
    localStream = null;
    localMedia = null;
    resetControls();
    setControlsEnabled(false);
    if (chatForm) {
      for (const control of chatForm.elements) {
        control.disabled = true;
      }
    }
    lastFrames = 0;
    if (indicator) {
      indicator.dataset.state = "none";
      indicatorText.textContent = text.videoNone;
    }
    show(callSection, false);
    show(waitingSection, true);
    setStatus(text.sentBack);
  }

  function resetControls() {
    for (const [button, label] of [
      [muteButton, text.mute],
      [cameraButton, text.cameraOff],
      [shareButton, text.shareScreen],
    ]) {
      if (button) {
        button.setAttribute("aria-pressed", "false");
        button.textContent = label;
      }
    }
  }

  function wantedMedia() {
    let choice = "full";
    try {
      choice = window.sessionStorage.getItem(MEDIA_KEY) || "full";
    } catch (error) {
      choice = "full";
    }
    if (choice === "none") {
      return null;
    }
    return { audio: true, video: choice !== "audio" };
  }

  function startLocalMedia() {
    if (!localMedia) {
      localMedia = openLocalMedia();
    }
    return localMedia;
  }

  // Resolves true when the devices asked for are open (or none were asked for), false
  // after telling the person what went wrong (they still see and hear the others).
  async function openLocalMedia() {
    const wanted = wantedMedia();
    if (!wanted) {
      return true;
    }
    try {
      localStream = await navigator.mediaDevices.getUserMedia(wanted);
    } catch (error) {
      if (error && error.name === "NotAllowedError") {
        setStatus(text.cameraBlocked);
        return false;
      }
      try {
        // No camera (or it is busy): try the microphone alone.
        localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      } catch (second) {
        setStatus(text.noDevices);
        return false;
      }
    }
    if (localVideo) {
      localVideo.srcObject = localStream;
    }
    setControlsEnabled(true);
    return true;
  }

  function stopLocalMedia() {
    if (screenTrack) {
      screenTrack.stop();
      screenTrack = null;
    }
    if (localStream) {
      for (const track of localStream.getTracks()) {
        track.stop();
      }
    }
    if (localVideo) {
      localVideo.srcObject = null;
    }
  }

  function setControlsEnabled(enabled) {
    const hasAudio = Boolean(localStream && localStream.getAudioTracks().length);
    const hasVideo = Boolean(localStream && localStream.getVideoTracks().length);
    if (muteButton) {
      muteButton.disabled = !(enabled && hasAudio);
    }
    if (cameraButton) {
      cameraButton.disabled = !(enabled && hasVideo);
    }
    if (shareButton) {
      shareButton.disabled = !(enabled && navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
    }
  }

  // Peers -------------------------------------------------------------------------------

  function syncPeers(list) {
    const present = new Set();
    for (const info of list) {
      present.add(info.id);
      let peer = peers.get(info.id);
      if (peer && peer.session !== info.session) {
        // A reload or a second window on their side: their old connection is gone.
        closePeer(peer);
        peers.delete(info.id);
        peer = null;
      }
      if (!peer) {
        peers.set(info.id, createPeer(info));
        setStatus(format(text.peerJoined, { name: info.name }));
      }
    }
    for (const [id, peer] of peers) {
      if (!present.has(id)) {
        closePeer(peer);
        peers.delete(id);
        setStatus(format(text.peerLeft, { name: peer.name }));
      }
    }
  }

  function createPeer(info) {
    const pc = new RTCPeerConnection({ iceServers: config.iceServers || [] });
    const peer = {
      id: info.id,
      name: info.name,
      session: info.session,
      pc: pc,
      polite: config.me > info.id,
      makingOffer: false,
      ignoreOffer: false,
      pending: [],
      sending: Promise.resolve(),
      stallTimer: null,
      tile: makeTile(info),
    };
    addLocalTracks(pc);
    pc.addEventListener("negotiationneeded", () => offer(peer));
    pc.addEventListener("icecandidate", (event) => sendCandidate(peer, event.candidate));
    pc.addEventListener("track", (event) => showRemote(peer, event));
    pc.addEventListener("iceconnectionstatechange", () => iceChanged(peer));
    return peer;
  }

  function addLocalTracks(pc) {
    const audio = localStream ? localStream.getAudioTracks()[0] : null;
    const camera = localStream ? localStream.getVideoTracks()[0] : null;
    if (audio) {
      pc.addTrack(audio, localStream);
    } else {
      pc.addTransceiver("audio", { direction: "recvonly" });
    }
    if (camera) {
      pc.addTrack(screenTrack || camera, localStream);
    } else {
      pc.addTransceiver("video", { direction: "recvonly" });
    }
  }

  function closePeer(peer) {
    window.clearTimeout(peer.stallTimer);
    peer.pc.close();
    peer.tile.remove();
  }

  function makeTile(info) {
    const figure = document.createElement("figure");
    figure.className = "video-tile video-tile-remote";
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute("playsinline", "");
    const caption = document.createElement("figcaption");
    caption.textContent = info.name;
    video.setAttribute("aria-label", info.name);
    figure.append(video, caption);
    tiles.append(figure);
    return figure;
  }

  function showRemote(peer, event) {
    const video = peer.tile.querySelector("video");
    const stream = event.streams && event.streams[0] ? event.streams[0] : new MediaStream([event.track]);
    if (video.srcObject !== stream) {
      video.srcObject = stream;
    }
    setStatus(text.connected);
  }

  async function offer(peer) {
    try {
      peer.makingOffer = true;
      await peer.pc.setLocalDescription();
      sendDescription(peer);
    } catch (error) {
      console.warn("video: could not make an offer", error);
    } finally {
      peer.makingOffer = false;
    }
  }

  function sendDescription(peer) {
    const description = peer.pc.localDescription;
    if (description) {
      send(peer, "description", { type: description.type, sdp: description.sdp });
    }
  }

  function candidateAddress(candidate) {
    if (candidate.address) {
      return candidate.address;
    }
    // "candidate:<foundation> <component> <protocol> <priority> <address> <port> typ ..."
    const parts = String(candidate.candidate || "").split(" ");
    return parts.length > 4 ? parts[4] : "";
  }

  function sendCandidate(peer, candidate) {
    if (!candidate || !candidate.candidate) {
      return;
    }
    if (config.loopbackOnly && candidateAddress(candidate) !== "127.0.0.1") {
      return;
    }
    send(peer, "candidate", {
      candidate: candidate.candidate,
      sdpMid: candidate.sdpMid,
      sdpMLineIndex: candidate.sdpMLineIndex,
    });
  }

  // One request at a time per peer, so a description always arrives before its candidates.
  function send(peer, kind, payload) {
    const body = { session: sessionId, to: peer.id, to_session: peer.session, kind: kind, payload: payload };
    peer.sending = peer.sending
      .then(() => postJson(config.api.signal, body))
      .catch(() => undefined);
  }

  async function handleSignal(signal) {
    const peer = peers.get(signal.from);
    if (!peer || peer.session !== signal.from_session) {
      return; // from a connection that has since been replaced
    }
    try {
      if (signal.kind === "description") {
        await takeDescription(peer, signal.payload);
      } else if (signal.kind === "candidate") {
        await takeCandidate(peer, signal.payload);
      }
    } catch (error) {
      console.warn("video: signaling step failed", error);
    }
  }

  async function takeDescription(peer, description) {
    const pc = peer.pc;
    const collision = description.type === "offer" && (peer.makingOffer || pc.signalingState !== "stable");
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) {
      return;
    }
    await pc.setRemoteDescription(description);
    for (const candidate of peer.pending.splice(0)) {
      await addCandidate(peer, candidate);
    }
    if (description.type === "offer") {
      await pc.setLocalDescription();
      sendDescription(peer);
    }
  }

  async function takeCandidate(peer, candidate) {
    if (!peer.pc.remoteDescription) {
      peer.pending.push(candidate);
      return;
    }
    await addCandidate(peer, candidate);
  }

  async function addCandidate(peer, candidate) {
    try {
      await peer.pc.addIceCandidate(candidate);
    } catch (error) {
      if (!peer.ignoreOffer) {
        throw error;
      }
    }
  }

  function iceChanged(peer) {
    const state = peer.pc.iceConnectionState;
    window.clearTimeout(peer.stallTimer);
    if (state === "failed") {
      setStatus(text.reconnecting);
      peer.pc.restartIce();
    } else if (state === "disconnected") {
      setStatus(text.reconnecting);
      peer.stallTimer = window.setTimeout(() => {
        if (peer.pc.iceConnectionState === "disconnected") {
          peer.pc.restartIce();
        }
      }, STALL_MS);
    } else if (state === "connected" || state === "completed") {
      setStatus(text.connected);
    }
  }

  // What is received: window.videoVisit and the connection indicator ---------------------

  async function framesDecoded() {
    let total = 0;
    for (const peer of peers.values()) {
      if (peer.pc.connectionState === "closed") {
        continue;
      }
      let stats = null;
      try {
        stats = await peer.pc.getStats();
      } catch (error) {
        continue; // closed while we asked: it has nothing to add
      }
      stats.forEach((report) => {
        if (report.type === "inbound-rtp" && (report.kind || report.mediaType) === "video") {
          total += report.framesDecoded || 0;
        }
      });
    }
    return total;
  }

  async function updateIndicator() {
    if (!indicator) {
      return;
    }
    const frames = await framesDecoded();
    const live = frames > lastFrames;
    lastFrames = frames;
    const state = live ? "live" : "none";
    if (indicator.dataset.state !== state) {
      indicator.dataset.state = state;
      indicatorText.textContent = live ? text.videoLive : text.videoNone;
    }
  }

  window.videoVisit = { framesDecoded: framesDecoded, sessionId: sessionId };

  // Controls ----------------------------------------------------------------------------

  function toggle(button, tracks, onLabel, offLabel) {
    const off = button.getAttribute("aria-pressed") !== "true";
    for (const track of tracks) {
      track.enabled = !off;
    }
    button.setAttribute("aria-pressed", String(off));
    button.textContent = off ? offLabel : onLabel;
  }

  if (muteButton) {
    muteButton.addEventListener("click", () => {
      if (localStream) {
        toggle(muteButton, localStream.getAudioTracks(), text.mute, text.unmute);
        setStatus(muteButton.getAttribute("aria-pressed") === "true" ? text.muted : text.unmuted);
      }
    });
  }

  if (cameraButton) {
    cameraButton.addEventListener("click", () => {
      if (localStream) {
        toggle(cameraButton, localStream.getVideoTracks(), text.cameraOff, text.cameraOn);
      }
    });
  }

  function videoSenders() {
    const senders = [];
    for (const peer of peers.values()) {
      for (const transceiver of peer.pc.getTransceivers()) {
        const kind = transceiver.receiver.track ? transceiver.receiver.track.kind : "";
        if (kind === "video" && !transceiver.stopped) {
          if (transceiver.direction === "recvonly") {
            transceiver.direction = "sendrecv"; // renegotiates: the share is this side's first video
          }
          senders.push(transceiver.sender);
        }
      }
    }
    return senders;
  }

  async function startShare() {
    try {
      const display = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      screenTrack = display.getVideoTracks()[0];
    } catch (error) {
      setStatus(text.shareFailed);
      return;
    }
    screenTrack.addEventListener("ended", stopShare);
    await Promise.all(videoSenders().map((sender) => sender.replaceTrack(screenTrack)));
    if (localVideo) {
      localVideo.srcObject = new MediaStream([screenTrack]);
    }
    shareButton.setAttribute("aria-pressed", "true");
    shareButton.textContent = text.stopShare;
  }

  async function stopShare() {
    if (!screenTrack) {
      return;
    }
    screenTrack.stop();
    screenTrack = null;
    const camera = localStream ? localStream.getVideoTracks()[0] || null : null;
    await Promise.all(videoSenders().map((sender) => sender.replaceTrack(camera)));
    if (localVideo) {
      localVideo.srcObject = localStream;
    }
    shareButton.setAttribute("aria-pressed", "false");
    shareButton.textContent = text.shareScreen;
  }

  if (shareButton) {
    shareButton.addEventListener("click", () => (screenTrack ? stopShare() : startShare()));
  }

  // Chat --------------------------------------------------------------------------------

  function renderChat(lines) {
    for (const line of lines) {
      afterChat = Math.max(afterChat, line.id);
      const item = document.createElement("li");
      item.className = line.mine ? "video-chat-line video-chat-mine" : "video-chat-line";
      const who = document.createElement("span");
      who.className = "video-chat-name";
      who.textContent = (line.mine ? text.you : line.name) + ": ";
      const body = document.createElement("span");
      body.textContent = line.text;
      const when = document.createElement("time");
      when.className = "video-chat-time";
      when.dateTime = line.at;
      const at = new Date(line.at);
      when.textContent = isNaN(at) ? "" : " " + at.toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
      item.append(who, body, when);
      chatLog.append(item);
    }
    if (lines.length) {
      show(chatEmpty, false);
      chatLog.scrollTop = chatLog.scrollHeight;
    }
  }

  if (chatForm) {
    chatForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      const input = chatForm.querySelector("input[name=text]");
      const message = input.value.trim();
      if (!message || stopped) {
        return;
      }
      try {
        const response = await postJson(config.api.chat, { session: sessionId, text: message });
        if (response.status === 429) {
          // Too many lines at once: the server says how long to wait; the text stays to resend.
          const answer = await response.json().catch(() => ({}));
          setStatus(answer.error || text.chatFailed);
          return;
        }
        if (!response.ok) {
          throw new Error("chat answered " + response.status);
        }
        input.value = "";
        pollNow();
      } catch (error) {
        setStatus(text.chatFailed);
      }
    });
  }

  // Staff actions (admit, send back, end) without leaving the call ----------------------

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-video-action]");
    if (!form) {
      return;
    }
    event.preventDefault();
    const buttons = Array.from(form.querySelectorAll("button"));
    buttons.forEach((button) => (button.disabled = true));
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        redirect: "manual",
      });
      if (!(response.ok || response.type === "opaqueredirect")) {
        throw new Error("action answered " + response.status);
      }
      document.dispatchEvent(new CustomEvent("videovisit:action", { detail: { action: form.dataset.videoAction } }));
    } catch (error) {
      setStatus(text.actionFailed);
    } finally {
      buttons.forEach((button) => (button.disabled = false));
      if (!stopped) {
        pollNow();
      }
    }
  });

  window.addEventListener("pagehide", () => {
    for (const peer of peers.values()) {
      peer.pc.close();
    }
  });

  poll();
})();
