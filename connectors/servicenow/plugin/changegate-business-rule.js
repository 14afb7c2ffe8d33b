/* global gs, sn_ws, GlideDateTime, current, previous */
/*
 * changegate: before-update business rule on change_request,
 * condition `current.state.changes()`.
 *
 * Blocks a state change the release policy does not allow, before it is
 * written. It runs for form saves and for REST updates alike; REST callers
 * only see ServiceNow's generic "aborted by Business Rule" body, which is why
 * the reasons also live in u_changegate_reasons and the service's work note.
 *
 * Deliberately ES3/ES5-only (no let/const, arrow functions, template strings,
 * Array.prototype.map/indexOf or String.prototype.trim): global-scope scripts
 * may run in Rhino's compatibility mode.
 *
 * Source of truth for this script: connectors/servicenow/plugin/ in the
 * changegate repository; the update set embeds this file verbatim.
 */
(function executeRule(current, previous /* null when async */) {
  var PREFIX = 'x_changegate.';
  var OUT_OF_BOX_STATES = {
    '-5': 'New', '-4': 'Assess', '-3': 'Authorize', '-2': 'Scheduled',
    '-1': 'Implement', '0': 'Review', '3': 'Closed', '4': 'Canceled'
  };
  var ASSESSED_AT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/;

  function trim(text) {
    return String(text).replace(/^\s+|\s+$/g, '');
  }

  function prop(name, fallback) {
    var raw = gs.getProperty(PREFIX + name, fallback);
    if (raw === null || raw === undefined) return fallback;
    var text = trim(raw);
    return text === '' ? fallback : text;
  }

  function intProp(name, fallback) {
    var parsed = parseInt(prop(name, String(fallback)), 10);
    return isNaN(parsed) ? fallback : parsed;
  }

  function field(record, name) {
    var raw = record.getValue(name);
    return raw === null || raw === undefined ? '' : String(raw);
  }

  function csv(text) {
    var parts = String(text).split(',');
    var out = [];
    for (var i = 0; i < parts.length; i++) {
      var part = trim(parts[i]);
      if (part !== '') out.push(part);
    }
    return out;
  }

  function contains(list, wanted) {
    for (var i = 0; i < list.length; i++) {
      if (list[i] === wanted) return true;
    }
    return false;
  }

  function label(state) {
    return OUT_OF_BOX_STATES.hasOwnProperty(state) ? OUT_OF_BOX_STATES[state] : state;
  }

  function labels(states) {
    var out = [];
    for (var i = 0; i < states.length; i++) out.push(label(states[i]));
    return out.length > 0 ? out.join(', ') : 'none';
  }

  // changegate writes one line per blocked move, "<values> (<label>): <reasons>",
  // e.g. "-3 (Authorize): backout plan is missing"; show the line for the
  // attempted move, or every line when none names it.
  function reasonsFor(state, text) {
    var lines = String(text).split('\n');
    var picked = [];
    var all = [];
    for (var i = 0; i < lines.length; i++) {
      var line = trim(lines[i]);
      if (line === '') continue;
      all.push(line);
      var cut = line.indexOf(' (');
      var close = line.indexOf('): ');
      if (cut > 0 && close > cut && contains(line.substring(0, cut).split('/'), state)) picked.push(line.substring(close + 3));
    }
    var chosen = picked.length > 0 ? picked : all;
    return chosen.length > 0 ? chosen.join('; ') : 'the release policy does not allow it';
  }

  function reasonsOf(list) {
    var out = [];
    if (list && list.length) {
      for (var i = 0; i < list.length; i++) out.push(String(list[i]));
    }
    return out.length > 0 ? out.join('; ') : 'the release policy does not allow it';
  }

  // POST /v1/validate's bounds on proposed text; longer text is cut rather than
  // refused, so a long close note never turns a decision into a fail-mode one.
  var PROPOSED_MAX = 4000;

  function bounded(text, max) {
    return text.length > max ? text.substring(0, max) : text;
  }

  function changed(name) {
    var element = current[name];
    return !!element && typeof element.changes === 'function' && !!element.changes();
  }

  // Text typed into a journal field (work_notes, comments) in this save. That
  // a before rule reads the new entry from current.<field> is not verified on
  // a real instance; anything else (no element, no change, blank) counts as
  // nothing typed, which judges the save as before.
  function typed(name) {
    if (!changed(name)) return '';
    var text = String(current[name]);
    return trim(text) === '' ? '' : bounded(text, PROPOSED_MAX);
  }

  // What this save carries for the gates that read close code, close notes or
  // a note (a cancellation reason typed with the move): changed fields only.
  function proposed() {
    var out = {};
    var any = false;
    if (changed('close_code')) {
      out.closeCode = bounded(field(current, 'close_code'), 200);
      any = true;
    }
    if (changed('close_notes')) {
      out.closeNotes = bounded(field(current, 'close_notes'), PROPOSED_MAX);
      any = true;
    }
    var workNote = typed('work_notes');
    var comment = typed('comments');
    if (workNote !== '') out.workNote = workNote;
    if (comment !== '') out.comment = comment;
    if (workNote !== '' || comment !== '') {
      var user = trim(String(gs.getUserName() || ''));
      if (user !== '') out.by = user.substring(0, 200);
      any = true;
    }
    return any ? out : null;
  }

  // Words that deny a marker just before it in the same clause ("do not cancel"),
  // read as changegate reads notes (src/policy/note-markers.ts).
  var NEGATIONS = {
    not: 1, no: 1, never: 1, without: 1, nor: 1, neither: 1, cannot: 1, dont: 1, doesnt: 1, didnt: 1, wont: 1,
    wouldnt: 1, shouldnt: 1, cant: 1, couldnt: 1, mustnt: 1, isnt: 1, arent: 1, wasnt: 1, werent: 1, havent: 1, hasnt: 1
  };

  function negated(lower, index) {
    var clauses = lower.substring(Math.max(0, index - 60), index).split(/[.,;:!?()\n]/);
    var words = String(clauses[clauses.length - 1]).split(/\s+/);
    var seen = 0;
    for (var i = words.length - 1; i >= 0 && seen < 3; i--) {
      var word = words[i].replace(/\u2019/g, '\'');
      if (word === '') continue;
      seen++;
      if (word.length >= 3 && word.substring(word.length - 3) === 'n\'t') return true;
      if (NEGATIONS.hasOwnProperty(word.replace(/[^a-z]/g, ''))) return true;
    }
    return false;
  }

  function mentions(text, marker) {
    var lower = String(text).toLowerCase();
    var needle = String(marker).toLowerCase();
    if (needle === '') return false;
    for (var at = lower.indexOf(needle); at >= 0; at = lower.indexOf(needle, at + 1)) {
      if (!negated(lower, at)) return true;
    }
    return false;
  }

  // One thing a save can carry: "close_code" / "close_notes" set in the record
  // as saved, or "note:<marker>" in a work note or comment typed in this save.
  function meets(item) {
    var what = String(item);
    if (what === 'close_code' || what === 'close_notes') return trim(field(current, what)) !== '';
    if (what.substring(0, 5) !== 'note:') return false;
    var marker = what.substring(5);
    return mentions(typed('work_notes'), marker) || mentions(typed('comments'), marker);
  }

  // changegate lists, per blocked state value, what a save must carry to meet
  // the only rules blocking it (a cancellation reason typed with the move):
  // {"4": [["close_notes", "note:cancel"]]}, every list met by one item.
  // Read from `previous`, like the verdict; unreadable counts as no such move.
  function carriesReason(state) {
    var raw = field(previous, 'u_changegate_allowed_with_reason');
    if (trim(raw) === '') return false;
    var moves;
    try {
      moves = JSON.parse(raw);
    } catch (e) {
      gs.warn('changegate: u_changegate_allowed_with_reason on ' + number + ' is not readable (' + e + '); no move is unblocked by a reason');
      return false;
    }
    if (!moves || typeof moves !== 'object' || !moves.hasOwnProperty(state)) return false;
    var needs = moves[state];
    if (!needs || typeof needs !== 'object' || !needs.length) return false;
    for (var i = 0; i < needs.length; i++) {
      var any = needs[i];
      var met = false;
      if (any && typeof any === 'object') {
        for (var j = 0; j < any.length && !met; j++) met = meets(any[j]);
      }
      if (!met) return false;
    }
    return true;
  }

  // The business rule condition already requires a state change; checking
  // again keeps the script safe if someone clears the condition.
  if (!previous || !current.state.changes()) return;

  var from = field(previous, 'state');
  var to = field(current, 'state');
  var number = field(current, 'number');
  var move = label(from) + ' \u2192 ' + label(to);
  var failClosed = prop('fail_mode', 'open') === 'closed';

  // The service's own corrective moves (enforce mode) must never be blocked.
  if (contains(csv(prop('bypass_users', '')), String(gs.getUserName()))) return;

  // Without a trustworthy verdict the fail mode decides: open lets the change
  // through (the service still reacts to it afterwards), closed keeps it put.
  function unverified(why) {
    if (failClosed) {
      return {
        allow: false,
        message: 'changegate could not confirm ' + move + ': ' + why + '. The change stays in ' + label(from) +
          ' (fail-closed); try again shortly or ask your change manager.'
      };
    }
    return { allow: true, note: 'changegate let ' + number + ' ' + move + ' through unchecked (fail-open): ' + why };
  }

  // The verdict is read from `previous`: it describes the record as saved, and
  // a user cannot clear a block by editing the verdict fields in the same save.
  function fromVerdictFields() {
    var assessedAt = field(previous, 'u_changegate_assessed_at');
    if (!ASSESSED_AT.test(assessedAt)) return unverified('there is no changegate verdict on this change yet');
    var maxAge = intProp('max_verdict_age_minutes', 0);
    var ageMinutes = Math.floor((new GlideDateTime().getNumericValue() - new GlideDateTime(assessedAt).getNumericValue()) / 60000);
    if (maxAge > 0 && ageMinutes > maxAge) {
      return unverified('the changegate verdict is ' + ageMinutes + ' minutes old (limit ' + maxAge + ')');
    }
    var allowed = csv(field(previous, 'u_changegate_allowed'));
    if (contains(allowed, to) || carriesReason(to)) return { allow: true };
    return {
      allow: false,
      message: 'changegate blocked ' + move + ': ' + reasonsFor(to, field(previous, 'u_changegate_reasons')) +
        '. Allowed next: ' + labels(allowed) + ' (policy ' + field(previous, 'u_changegate_policy_version') +
        ', assessed ' + assessedAt + ' UTC).'
    };
  }

  function fromService() {
    var base = prop('url', '');
    if (base === '') return unverified('the system property x_changegate.url is not set');
    var timeoutMs = Math.min(Math.max(intProp('timeout_ms', 3000), 500), 25000);
    var response;
    try {
      var request = new sn_ws.RESTMessageV2('changegate validate', 'post');
      request.setEndpoint(base.replace(/\/+$/, '') + '/v1/validate');
      request.setHttpTimeout(timeoutMs);
      request.setRequestHeader('Content-Type', 'application/json');
      request.setRequestHeader('Accept', 'application/json');
      var body = {
        system: 'servicenow',
        instance: prop('instance_id', String(gs.getProperty('instance_name', ''))),
        key: number,
        from: from,
        to: to
      };
      var typedNow = proposed();
      if (typedNow !== null) body.proposed = typedNow;
      request.setRequestBody(JSON.stringify(body));
      response = request.execute();
    } catch (e) {
      return unverified('changegate did not answer within ' + timeoutMs + ' ms (' + e + ')');
    }
    var status = Number(response.getStatusCode());
    if (response.haveError() || status !== 200) {
      return unverified('changegate answered HTTP ' + status + ' ' + String(response.getErrorMessage() || ''));
    }
    var answer;
    try {
      answer = JSON.parse(String(response.getBody()));
    } catch (e2) {
      return unverified('changegate sent an unreadable answer (' + e2 + ')');
    }
    if (!answer || typeof answer.allow !== 'boolean') return unverified('changegate sent an answer without a verdict');
    var policy = ' (policy ' + answer.policyVersion + ')';
    if (!answer.allow) return { allow: false, message: 'changegate blocked ' + move + ': ' + reasonsOf(answer.reasons) + policy + '.' };
    // A stale mirror cannot vouch for the change: treat it like no answer.
    if (answer.stale === true) return unverified('changegate allowed it from a stale copy of this change');
    return { allow: true };
  }

  var decision = prop('validate_mode', 'fields') === 'callout' ? fromService() : fromVerdictFields();
  if (decision.allow) {
    if (decision.note) gs.warn(decision.note);
    return;
  }
  gs.addErrorMessage(decision.message);
  current.setAbortAction(true);
})(current, previous);
