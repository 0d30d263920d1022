// The security check on public forms (portal/lib/challenge.py): find a counter whose
// SHA-256 with the signed challenge starts with enough zero bits, put it in the hidden
// proof field, and hide the fallback question people without JavaScript answer instead.
(function () {
  "use strict";

  var BATCH = 256;
  var encoder = new TextEncoder();

  function leadingZeroBits(bytes) {
    var bits = 0;
    for (var i = 0; i < bytes.length; i += 1) {
      if (bytes[i] === 0) {
        bits += 8;
        continue;
      }
      return bits + Math.clz32(bytes[i]) - 24;
    }
    return bits;
  }

  function digest(token, candidate) {
    return crypto.subtle.digest("SHA-256", encoder.encode(token + ":" + candidate)).then(function (buffer) {
      return { candidate: candidate, bytes: new Uint8Array(buffer) };
    });
  }

  // Hash a batch of candidates at once: awaiting one digest at a time spends more on
  // scheduling than on hashing.
  function solve(token, difficulty, start) {
    var batch = [];
    for (var counter = start; counter < start + BATCH; counter += 1) {
      batch.push(digest(token, counter.toString(36)));
    }
    return Promise.all(batch).then(function (results) {
      for (var i = 0; i < results.length; i += 1) {
        if (leadingZeroBits(results[i].bytes) >= difficulty) {
          return results[i].candidate;
        }
      }
      return solve(token, difficulty, start + BATCH);
    });
  }

  function setUp(container) {
    if (container.dataset.challengeReady) {
      return;
    }
    container.dataset.challengeReady = "1";
    var form = container.closest("form");
    var token = container.querySelector("[data-challenge-token]");
    var proof = container.querySelector("[data-challenge-proof]");
    var question = container.querySelector("[data-challenge-question]");
    var difficulty = parseInt(container.dataset.challengeDifficulty, 10);
    if (!form || !token || !proof || !window.crypto || !window.crypto.subtle || isNaN(difficulty)) {
      return; // the question stays, and the server accepts its answer
    }
    var solved = false;
    var failed = false;
    var waiting = false;
    var showQuestion = function () {
      if (question) {
        question.hidden = false;
      }
    };
    // A question with an error message stays in view, so the message is not hidden.
    if (question && !question.classList.contains("field-error")) {
      question.hidden = true;
    }
    var work = solve(token.value, difficulty, 0).then(
      function (answer) {
        proof.value = answer;
        solved = true;
      },
      function () {
        failed = true;
        showQuestion();
      }
    );
    form.addEventListener("submit", function (event) {
      if (solved || failed) {
        return;
      }
      event.preventDefault();
      if (waiting) {
        return;
      }
      waiting = true;
      work.then(function () {
        waiting = false;
        if (solved) {
          if (typeof form.requestSubmit === "function") {
            form.requestSubmit();
          } else {
            form.submit();
          }
        }
      });
    });
  }

  var containers = document.querySelectorAll("[data-challenge]");
  for (var i = 0; i < containers.length; i += 1) {
    setUp(containers[i]);
  }
})();
