/*
 * The keying form, better with JavaScript: running totals, who is elected as the figures are
 * typed, the "won by lot" choice when candidates tie for the last seat, and one submission per
 * press. The server does every check again; this only helps the keyer see problems sooner.
 * Names are data: every one is inserted with textContent, never as markup.
 */
(function () {
  "use strict";

  var form = document.getElementById("keying-form");
  var configNode = document.getElementById("keying-config");
  if (!form || !configNode) { return; }
  var config = JSON.parse(configNode.textContent);
  var seats = config.seats;
  var isStv = config.system === "STV";

  function input(name) { return form.elements.namedItem(name); }

  function readInt(name) {
    var el = input(name);
    if (!el || el.value.trim() === "") { return null; }
    var text = el.value.trim();
    if (!/^[0-9]+$/.test(text)) { return NaN; }
    return parseInt(text, 10);
  }

  function fmt(n) { return n.toLocaleString("en-GB"); }

  function setText(id, text, bad) {
    var node = document.getElementById(id);
    if (!node) { return; }
    node.textContent = text;
    node.classList.toggle("running-total--bad", !!bad);
  }

  function rejectedTotal() {
    var total = readInt("rejected_total");
    if (total !== null) { return total; }
    var sum = null;
    config.headings.forEach(function (h) {
      var v = readInt("rejected_" + h);
      if (v !== null && !isNaN(v)) { sum = (sum || 0) + v; }
    });
    return sum;
  }

  // Top `seats` by votes; when candidates tie for the last place(s), those ticked as winning
  // by lot fill them. Mirrors results.checks.derive_fptp_winners.
  function fptpWinners(votes) {
    var ranked = votes.slice().sort(function (a, b) { return b.votes - a.votes; });
    if (ranked.length <= seats) { return { elected: ranked, tied: [], places: 0 }; }
    var cutoff = ranked[seats - 1].votes;
    var above = ranked.filter(function (c) { return c.votes > cutoff; });
    var atCutoff = ranked.filter(function (c) { return c.votes === cutoff; });
    var places = seats - above.length;
    if (atCutoff.length === places) { return { elected: above.concat(atCutoff), tied: [], places: 0 }; }
    var chosen = atCutoff.filter(function (c) {
      var box = input("won_by_lot_" + c.id);
      return box && box.checked;
    });
    var elected = chosen.length === places ? above.concat(chosen) : null;
    return { elected: elected, tied: atCutoff, places: places, chosen: chosen };
  }

  function showTie(tied, places) {
    var box = document.getElementById("field-won_by_lot");
    if (!box) { return; }
    var ids = tied.map(function (c) { return String(c.id); });
    box.hidden = tied.length === 0;
    Array.prototype.forEach.call(box.querySelectorAll("[data-lot]"), function (row) {
      var isTied = ids.indexOf(row.getAttribute("data-lot")) !== -1;
      row.hidden = !isTied;
      if (!isTied) {
        var cb = row.querySelector("input[type=checkbox]");
        if (cb) { cb.checked = false; }
      }
    });
    var legend = box.querySelector("legend");
    if (legend && tied.length) {
      legend.textContent = tied.length + " candidates tie for " + places + " seat" +
        (places === 1 ? "" : "s") + ": who won by lot?";
    }
  }

  function renderWinners(list, note) {
    var holder = document.getElementById("winner-list");
    if (!holder) { return; }
    while (holder.firstChild) { holder.removeChild(holder.firstChild); }
    if (note) {
      var p = document.createElement("p");
      p.className = "hint";
      p.textContent = note;
      holder.appendChild(p);
    }
    if (list && list.length) {
      var ol = document.createElement("ol");
      ol.className = "winners";
      list.forEach(function (c) {
        var li = document.createElement("li");
        li.textContent = c.name + " (" + c.party + ")" + (c.votes !== null && c.votes !== undefined ? ", " + fmt(c.votes) : "") +
          (c.byLot ? ", won by lot" : "");
        ol.appendChild(li);
      });
      holder.appendChild(ol);
    }
    Array.prototype.forEach.call(form.querySelectorAll(".candidate"), function (row) {
      var id = row.getAttribute("data-candidacy");
      var elected = (list || []).some(function (c) { return String(c.id) === id; });
      row.classList.toggle("candidate--elected", elected);
      var mark = row.querySelector("[data-mark]");
      if (mark) { mark.textContent = elected ? "Elected" : ""; }
    });
  }

  function update() {
    if (config.uncontested) { return; }
    var votes = [];
    var missing = 0;
    var invalid = 0;
    config.candidates.forEach(function (c) {
      var v = readInt("votes_" + c.id);
      if (v === null) { missing += 1; return; }
      if (isNaN(v)) { invalid += 1; return; }
      votes.push({ id: c.id, name: c.name, party: c.party, votes: v });
    });
    var total = votes.reduce(function (s, c) { return s + c.votes; }, 0);
    var counted = readInt("ballot_papers_counted");
    var rejected = rejectedTotal();
    var valid = counted !== null && !isNaN(counted) && rejected !== null && !isNaN(rejected) ? counted - rejected : null;

    var sumText = "Votes so far: " + fmt(total) + (missing ? " (" + missing + " candidate" + (missing === 1 ? "" : "s") + " to go)" : "") + ".";
    var bad = false;
    if (valid !== null) {
      var limit = valid * (isStv ? 1 : seats);
      sumText += " Valid papers: " + fmt(valid) + (seats > 1 && !isStv ? " × " + seats + " seats = at most " + fmt(limit) + " votes." : ".");
      if (!missing && ((seats === 1 || isStv) ? total !== valid : total > limit)) { bad = true; sumText += " These do not add up."; }
    }
    setText("votes-sum", sumText, bad);

    var papersText = "";
    if (counted !== null && !isNaN(counted)) {
      papersText = fmt(counted) + " counted";
      if (rejected !== null && !isNaN(rejected)) { papersText += " − " + fmt(rejected) + " rejected = " + fmt(counted - rejected) + " valid"; }
      var electorate = readInt("electorate");
      if (electorate && !isNaN(electorate)) {
        papersText += "; turnout " + (100 * counted / electorate).toFixed(1) + "%";
        if (counted > electorate) { papersText += ": more papers than electors"; }
      }
      papersText += ".";
    }
    setText("papers-sum", papersText, counted !== null && rejected !== null && rejected > counted);

    if (invalid) { renderWinners([], "Digits only, please."); showTie([], 0); return; }
    var tooMany = counted !== null && !isNaN(counted) && votes.filter(function (c) { return c.votes > counted; });
    if ((tooMany && tooMany.length) || (valid !== null && total > valid * seats)) {
      renderWinners([], (tooMany && tooMany.length ? tooMany.map(function (c) {
        return c.name + " has more votes (" + fmt(c.votes) + ") than papers counted (" + fmt(counted) + ").";
      }).join(" ") + " " : "") + "These figures cannot be right: no one is elected until they are put right.");
      showTie([], 0);
      return;
    }
    if (isStv) {
      var ticked = config.candidates.filter(function (c) {
        var box = input("elected_" + c.id);
        return box && box.checked;
      }).map(function (c) {
        var found = votes.filter(function (v) { return v.id === c.id; })[0];
        return { id: c.id, name: c.name, party: c.party, votes: found ? found.votes : null };
      });
      var quota = valid !== null ? Math.floor(valid / (seats + 1)) + 1 : null;
      var note = (quota ? "Quota: " + fmt(quota) + ". " : "") + ticked.length + " of " + seats + " marked elected.";
      renderWinners(ticked, note);
      return;
    }
    if (missing) { renderWinners([], "Key every candidate's votes to see who is elected."); showTie([], 0); return; }
    var outcome = fptpWinners(votes);
    showTie(outcome.tied, outcome.places);
    if (!outcome.elected) {
      renderWinners([], "Tie for the last seat: tick who won by lot.");
      return;
    }
    var lotIds = (outcome.chosen || []).map(function (c) { return c.id; });
    renderWinners(outcome.elected.map(function (c) {
      return { id: c.id, name: c.name, party: c.party, votes: c.votes, byLot: lotIds.indexOf(c.id) !== -1 };
    }), null);
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);

  // One submission per press: the buttons are disabled once the form is sent (the server's
  // client token makes any retry that still gets through harmless). The pressed button's
  // value is kept, since a disabled button is not submitted.
  var sending = false;
  form.addEventListener("submit", function (event) {
    if (sending) { event.preventDefault(); return; }
    sending = true;
    var submitter = event.submitter;
    if (submitter && submitter.name) {
      var keep = document.createElement("input");
      keep.type = "hidden";
      keep.name = submitter.name;
      keep.value = submitter.value;
      form.appendChild(keep);
    }
    Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (b) {
      b.disabled = true;
    });
  });
  window.addEventListener("pageshow", function () {
    sending = false;
    Array.prototype.forEach.call(form.querySelectorAll("button[type=submit]"), function (b) {
      b.disabled = false;
    });
  });

  update();
}());
