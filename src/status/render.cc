// The balancer-manager's JSON document and HTML page from balancer snapshots
// (render.h). Pure; runs in workers. The page is self-contained: inline CSS
// and one inline script (allowed by the hash in its Content-Security-Policy)
// that refreshes the numbers every 2 s from ?format=json.
#include "status/render.h"

#include "balancer/lbmethod.h"
#include "status/json.h"
#include "status/text.h"

#ifndef DROVER_VERSION
#define DROVER_VERSION "unknown"
#endif

namespace drover::status {
namespace {

using json::AppendString;

const char* HcMethodName(config::HealthCheck::Method m) {
  switch (m) {
    case config::HealthCheck::Method::kNone:
      return "";
    case config::HealthCheck::Method::kTcp:
      return "TCP";
    case config::HealthCheck::Method::kOptions:
      return "OPTIONS";
    case config::HealthCheck::Method::kHead:
      return "HEAD";
    case config::HealthCheck::Method::kGet:
      return "GET";
    case config::HealthCheck::Method::kCping:
      return "CPING";
  }
  return "";
}

bool HasHealthCheck(const MemberSnapshot& m) {
  return m.config != nullptr && m.config->hc.method != config::HealthCheck::Method::kNone;
}

// 30000 -> "30 s", 1500 -> "1500 ms".
std::string Duration(int64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + " s" : std::to_string(ms) + " ms";
}

std::string StickyText(const config::BalancerConfig& c) {
  if (c.sticky_cookie.empty() && c.sticky_urlparam.empty()) {
    return std::string();
  }
  if (c.sticky_cookie == c.sticky_urlparam) {
    return c.sticky_cookie;
  }
  return c.sticky_cookie + "|" + c.sticky_urlparam;
}

void Field(std::string* out, const char* name, bool first = false) {
  if (!first) {
    out->push_back(',');
  }
  out->push_back('"');
  out->append(name);
  out->append("\":");
}

void Num(std::string* out, const char* name, int64_t v) {
  Field(out, name);
  out->append(std::to_string(v));
}

void UNum(std::string* out, const char* name, uint64_t v) {
  Field(out, name);
  out->append(std::to_string(v));
}

void Str(std::string* out, const char* name, std::string_view v) {
  Field(out, name);
  AppendString(out, v);
}

void Bool(std::string* out, const char* name, bool v) {
  Field(out, name);
  out->append(v ? "true" : "false");
}

std::string HealthTitle(const MemberSnapshot& m) {
  if (!HasHealthCheck(m)) {
    return "no health check configured";
  }
  const config::HealthCheck& hc = m.config->hc;
  std::string t = HcMethodName(hc.method);
  if (hc.method != config::HealthCheck::Method::kTcp &&
      hc.method != config::HealthCheck::Method::kCping) {
    t += " " + (hc.uri.empty() ? std::string("/") : hc.uri);
  }
  t += " every " + Duration(hc.interval_ms) + ", passes " + std::to_string(hc.passes) + ", fails " +
       std::to_string(hc.fails);
  if (m.hc_last_ms != 0) {
    t += "; last " + FormatTimeUtc(m.hc_last_ms);
  }
  return t;
}

// What the page shows in the health-check cell (the script computes the same).
std::string HealthText(const MemberSnapshot& m) {
  std::string state = HealthState(m);
  if (state == "ok") {
    return "ok (" + std::to_string(m.hc_passes) + " passed)";
  }
  if (state == "failed") {
    return "failed (" + std::to_string(m.hc_fails) + " failed)";
  }
  return state == "off" ? "\u2014" : state;
}

// PATH/api ("/api" when the manager is at the root).
std::string ApiUrl(std::string_view base) {
  return (base == "/" ? std::string() : std::string(base)) + "/api";
}

void Badge(std::string* out, const char* name) {
  std::string cls = name;
  for (char& c : cls) {
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  out->append("<span class=\"badge " + cls + "\">" + name + "</span> ");
}

const std::string_view kScript = R"JS((function () {
  'use strict';
  var base = document.body.getAttribute('data-base');
  var stamp = document.getElementById('updated');
  var changed = document.getElementById('changed');
  function units(n) {
    if (n < 1024) { return n + ' B'; }
    var u = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'], i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < u.length - 1);
    return n.toFixed(1) + ' ' + u[i];
  }
  function time(ms) {
    return ms ? new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '\u2014';
  }
  function dur(ms) { return ms % 1000 === 0 ? (ms / 1000) + ' s' : ms + ' ms'; }
  function hc(m) {
    if (m.hc.state === 'ok') { return 'ok (' + m.hc.consecutive_passes + ' passed)'; }
    if (m.hc.state === 'failed') { return 'failed (' + m.hc.consecutive_fails + ' failed)'; }
    return m.hc.state === 'off' ? '\u2014' : m.hc.state;
  }
  function set(scope, key, text, title) {
    var el = scope.querySelector('[data-k="' + key + '"]');
    if (!el) { return null; }
    if (el.textContent !== text) { el.textContent = text; }
    if (title !== undefined) { el.title = title; }
    return el;
  }
  function badges(td, names) {
    var have = [];
    for (var i = 0; i < td.children.length; i++) { have.push(td.children[i].textContent); }
    if (have.join(' ') === names.join(' ')) { return; }
    while (td.firstChild) { td.removeChild(td.firstChild); }
    names.forEach(function (n) {
      var s = document.createElement('span');
      s.className = 'badge ' + n.toLowerCase();
      s.textContent = n;
      td.appendChild(s);
      td.appendChild(document.createTextNode(' '));
    });
  }
  function syncForm(row, m) {
    var d = row.querySelector('details');
    var f = row.querySelector('form.edit');
    if (!f || (d && d.open)) { return; }
    f.elements.w_lf.value = String(m.loadfactor);
    f.elements.w_ls.value = String(m.lbset);
    f.elements.w_wr.value = m.route;
    f.elements.w_rr.value = m.redirect;
    f.querySelectorAll('input[type=checkbox]').forEach(function (c) {
      c.checked = m.status.indexOf(c.getAttribute('data-flag')) >= 0;
    });
  }
  function update(d) {
    document.querySelectorAll('input[name="nonce"]').forEach(function (i) { i.value = d.nonce; });
    var stale = false;
    d.balancers.forEach(function (b) {
      var sec = document.getElementById('b-' + b.index);
      if (!sec || sec.getAttribute('data-name') !== b.name) { stale = true; return; }
      set(sec, 'lbmethod', b.lbmethod);
      set(sec, 'nofailover', b.nofailover ? 'On' : 'Off');
      set(sec, 'maxattempts', String(b.maxattempts));
      set(sec, 'timeout', dur(b.timeout_ms));
      set(sec, 'used', b.members_used + ' / ' + b.capacity);
      if (sec.querySelectorAll('tbody tr.member').length !== b.members.length) { stale = true; }
      b.members.forEach(function (m) {
        var row = document.getElementById('m-' + b.index + '-' + m.index);
        if (!row || row.getAttribute('data-url') !== m.url) { stale = true; return; }
        set(row, 'route', m.route || '\u2014');
        set(row, 'redirect', m.redirect || '\u2014');
        set(row, 'loadfactor', String(m.loadfactor));
        set(row, 'lbset', String(m.lbset));
        badges(row.querySelector('[data-k="status"]'), m.flags);
        set(row, 'elected', String(m.elected));
        set(row, 'busy', String(m.busy));
        set(row, 'lbstatus', String(m.lbstatus));
        set(row, 'bytes_out', units(m.bytes_out), m.bytes_out + ' bytes');
        set(row, 'bytes_in', units(m.bytes_in), m.bytes_in + ' bytes');
        set(row, 'failures', String(m.failures), m.retries + ' retries');
        set(row, 'error_time', time(m.error_time_ms));
        var h = set(row, 'hc', hc(m));
        if (h) { h.className = 'hc-' + m.hc.state; }
        row.classList.toggle('down', !m.usable);
        syncForm(row, m);
      });
    });
    changed.hidden = !stale;
    stamp.textContent = 'updated ' + new Date().toLocaleTimeString();
    stamp.className = '';
  }
  function refresh() {
    fetch(base + '?format=json', {cache: 'no-store', credentials: 'same-origin'})
      .then(function (r) {
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        return r.json();
      })
      .then(update)
      .catch(function (e) {
        stamp.textContent = 'refresh failed: ' + e.message;
        stamp.className = 'bad';
      });
  }
  document.querySelectorAll('form.remove').forEach(function (f) {
    f.addEventListener('submit', function (e) {
      var q = 'Remove ' + f.getAttribute('data-url') + ' from ' + f.getAttribute('data-b') + '?';
      if (!window.confirm(q)) { e.preventDefault(); }
    });
  });
  setInterval(refresh, 2000);
})();
)JS";

const char kStyle[] = R"CSS(
:root { color-scheme: light dark; --bg: #f6f8fa; --fg: #1f2328; --card: #fff; --line: #d0d7de;
  --muted: #59636e; --accent: #0969da; }
@media (prefers-color-scheme: dark) { :root { --bg: #0d1117; --fg: #e6edf3; --card: #161b22;
  --line: #30363d; --muted: #9198a1; --accent: #4493f8; } }
* { box-sizing: border-box; }
body { margin: 0; padding: 1.5rem 2rem 3rem; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
header h1 { margin: 0; font-size: 1.5rem; }
header p { margin: .25rem 0 1rem; color: var(--muted); }
#updated.bad { color: #cf222e; font-weight: 600; }
.notice { padding: .6rem 1rem; border-radius: 6px; background: #dafbe1; color: #116329;
  border: 1px solid #4ac26b; margin-bottom: 1rem; }
#changed { padding: .6rem 1rem; border-radius: 6px; background: #fff8c5; color: #7d4e00;
  border: 1px solid #d4a72c; margin-bottom: 1rem; }
section.balancer { background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 1rem 1.25rem; margin-bottom: 1.5rem; overflow-x: auto; }
section h2 { margin: 0 0 .5rem; font-size: 1.15rem; }
dl.settings { display: flex; flex-wrap: wrap; gap: .25rem 1.5rem; margin: 0 0 .75rem; }
dl.settings div { display: flex; gap: .4rem; }
dl.settings dt { color: var(--muted); }
dl.settings dd { margin: 0; font-weight: 600; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: .35rem .5rem; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; white-space: nowrap; }
th { font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; color: var(--muted); }
td.num, th.num { text-align: right; }
tr.down td.url { color: var(--muted); text-decoration: line-through; }
td.url { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
.badge { display: inline-block; padding: 0 .5rem; border-radius: 999px; font-size: .78rem;
  font-weight: 600; line-height: 1.5rem; border: 1px solid transparent; }
.badge.ok { background: #dafbe1; color: #116329; border-color: #4ac26b; }
.badge.dis { background: #eaeef2; color: #424a53; border-color: #afb8c1; }
.badge.stop { background: #82071e; color: #fff; }
.badge.err { background: #ffebe9; color: #a40e26; border-color: #ff8182; }
.badge.stby { background: #ddf4ff; color: #0550ae; border-color: #54aeff; }
.badge.spare { background: #fbefff; color: #6e40c9; border-color: #c297ff; }
.badge.drain { background: #fff8c5; color: #7d4e00; border-color: #d4a72c; }
.badge.hcfail { background: #fff1e5; color: #953800; border-color: #fb8f44; }
.badge.ign { background: transparent; color: var(--muted); border-color: var(--line); }
.hc-ok { color: #1a7f37; } .hc-failed { color: #cf222e; font-weight: 600; }
.hc-pending, .hc-off { color: var(--muted); }
details summary { cursor: pointer; color: var(--accent); }
form { display: flex; flex-wrap: wrap; gap: .5rem .9rem; align-items: end; margin: .5rem 0; }
form label { display: flex; flex-direction: column; font-size: .8rem; color: var(--muted); }
form fieldset { display: flex; gap: .6rem; border: 1px solid var(--line); border-radius: 6px;
  padding: .2rem .6rem .4rem; }
form fieldset label { flex-direction: row; align-items: center; gap: .2rem; color: var(--fg); }
form legend { font-size: .75rem; color: var(--muted); }
input, select, button { font: inherit; padding: .25rem .45rem; border-radius: 6px;
  border: 1px solid var(--line); background: var(--card); color: var(--fg); }
input[type=number] { width: 6rem; }
button { cursor: pointer; background: var(--accent); color: #fff; border-color: var(--accent); }
button.danger { background: #cf222e; border-color: #cf222e; }
form.remove { display: inline; margin: 0; }
.free { color: var(--muted); font-size: .85rem; }
footer { color: var(--muted); font-size: .85rem; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; }
)CSS";

struct FlagInfo {
  char letter;
  uint32_t bit;
  const char* label;
};

constexpr FlagInfo kFormFlags[] = {
    {'D', config::kFlagDisabled, "Disabled"}, {'S', config::kFlagStopped, "Stopped"},
    {'N', config::kFlagDrain, "Draining"},    {'H', config::kFlagStandby, "Hot standby"},
    {'R', config::kFlagSpare, "Hot spare"},   {'I', config::kFlagIgnoreErrors, "Ignore errors"},
};

void Hidden(std::string* out, std::string_view name, std::string_view value) {
  out->append("<input type=\"hidden\" name=\"" + HtmlEscape(name) + "\" value=\"" +
              HtmlEscape(value) + "\">");
}

void MemberRow(std::string* out, const BalancerSnapshot& b, const MemberSnapshot& m,
               const PageInfo& info) {
  const std::string id = std::to_string(b.index) + "-" + std::to_string(m.index);
  const std::string url = HtmlEscape(m.url);
  const std::string dash = "\u2014";
  out->append("<tr class=\"member" + std::string(m.usable ? "" : " down") + "\" id=\"m-" + id +
              "\" data-url=\"" + url + "\">");
  out->append("<td class=\"num\">" + std::to_string(m.index) + "</td>");
  out->append("<td class=\"url\" title=\"" +
              std::string(m.from_config ? "from the config" : "added at run time") + "\">" + url +
              "</td>");
  out->append("<td data-k=\"route\">" + (m.route.empty() ? dash : HtmlEscape(m.route)) + "</td>");
  out->append("<td data-k=\"redirect\">" + (m.redirect.empty() ? dash : HtmlEscape(m.redirect)) +
              "</td>");
  out->append("<td class=\"num\" data-k=\"loadfactor\">" + FormatHundredths(m.lbfactor) + "</td>");
  out->append("<td class=\"num\" data-k=\"lbset\">" + std::to_string(m.lbset) + "</td>");
  out->append("<td data-k=\"status\">");
  for (const char* name : Badges(m.status, m.usable)) {
    Badge(out, name);
  }
  out->append("</td>");
  out->append("<td class=\"num\" data-k=\"elected\">" + std::to_string(m.elected) + "</td>");
  out->append("<td class=\"num\" data-k=\"busy\">" + std::to_string(m.busy) + "</td>");
  out->append("<td class=\"num\" data-k=\"lbstatus\">" + std::to_string(m.lbstatus) + "</td>");
  out->append("<td class=\"num\" data-k=\"bytes_out\" title=\"" + std::to_string(m.bytes_out) +
              " bytes\">" + FormatBytes(m.bytes_out) + "</td>");
  out->append("<td class=\"num\" data-k=\"bytes_in\" title=\"" + std::to_string(m.bytes_in) +
              " bytes\">" + FormatBytes(m.bytes_in) + "</td>");
  out->append("<td class=\"num\" data-k=\"failures\" title=\"" + std::to_string(m.retries) +
              " retries\">" + std::to_string(m.failures) + "</td>");
  std::string err = FormatTimeUtc(m.error_time_ms);
  out->append("<td data-k=\"error_time\">" + (err.empty() ? dash : err) + "</td>");
  out->append("<td data-k=\"hc\" class=\"hc-" + std::string(HealthState(m)) + "\" title=\"" +
              HtmlEscape(HealthTitle(m)) + "\">" + HtmlEscape(HealthText(m)) + "</td>");

  // Edit and remove.
  const std::string base = HtmlEscape(info.base);
  out->append("<td><details><summary>Edit</summary>");
  out->append("<form method=\"post\" action=\"" + base + "\" class=\"edit\" id=\"edit-" + id +
              "\">");
  Hidden(out, "nonce", info.nonce);
  Hidden(out, "b", b.name);
  Hidden(out, "w", m.url);
  out->append(
      "<label>Load factor<input name=\"w_lf\" type=\"number\" min=\"1\" max=\"100\" "
      "step=\"0.01\" value=\"" +
      FormatHundredths(m.lbfactor) + "\"></label>");
  out->append("<label>LB set<input name=\"w_ls\" type=\"number\" min=\"0\" max=\"99\" value=\"" +
              std::to_string(m.lbset) + "\"></label>");
  out->append("<label>Route<input name=\"w_wr\" maxlength=\"63\" size=\"10\" value=\"" +
              HtmlEscape(m.route) + "\"></label>");
  out->append("<label>Redirect<input name=\"w_rr\" maxlength=\"63\" size=\"10\" value=\"" +
              HtmlEscape(m.redirect) + "\"></label>");
  out->append("<fieldset><legend>Status</legend>");
  for (const FlagInfo& f : kFormFlags) {
    std::string name = std::string("w_status_") + f.letter;
    out->append("<label title=\"status flag " + std::string(1, f.letter) + "\">");
    Hidden(out, name, "0");
    out->append("<input type=\"checkbox\" name=\"" + name + "\" value=\"1\" data-flag=\"" +
                std::string(1, f.letter) + "\"" + ((m.status & f.bit) != 0 ? " checked" : "") +
                ">" + f.label + "</label>");
  }
  out->append("</fieldset><button type=\"submit\">Save</button></form>");
  out->append("<form method=\"post\" action=\"" + base + "\" class=\"remove\" data-url=\"" + url +
              "\" data-b=\"" + HtmlEscape(b.name) + "\">");
  Hidden(out, "nonce", info.nonce);
  Hidden(out, "b", b.name);
  Hidden(out, "w", m.url);
  Hidden(out, "w_remove", "1");
  out->append("<button type=\"submit\" class=\"danger\">Remove</button></form>");
  out->append("</details></td></tr>\n");
}

void BalancerSection(std::string* out, const BalancerSnapshot& b, const PageInfo& info) {
  const config::BalancerConfig& c = *b.config;
  const std::string name = HtmlEscape(b.name);
  const std::string base = HtmlEscape(info.base);
  out->append("<section class=\"balancer\" id=\"b-" + std::to_string(b.index) + "\" data-name=\"" +
              name + "\">\n");
  out->append("<h2>balancer://" + name + "</h2>\n<dl class=\"settings\">");
  auto item = [&](const char* label, const std::string& key, const std::string& value) {
    out->append("<div><dt>" + std::string(label) + "</dt><dd" +
                (key.empty() ? std::string() : " data-k=\"" + key + "\"") + ">" + value +
                "</dd></div>");
  };
  std::string sticky = StickyText(c);
  item("Method", "lbmethod", config::LbMethodName(b.lbmethod));
  item("Sticky session", "", sticky.empty() ? "\u2014" : HtmlEscape(sticky));
  item("No failover", "nofailover", b.nofailover ? "On" : "Off");
  item("Max attempts", "maxattempts", std::to_string(b.maxattempts));
  item("Timeout", "timeout", Duration(b.timeout_ms));
  item("Force recovery", "", c.forcerecovery ? "On" : "Off");
  std::string fos;
  for (int code : c.failonstatus) {
    fos += (fos.empty() ? "" : ",") + std::to_string(code);
  }
  item("Fail on status", "", fos.empty() ? "\u2014" : fos);
  item("Members used", "used",
       std::to_string(b.members.size()) + " / " + std::to_string(b.capacity));
  out->append("</dl>\n");

  out->append("<details><summary>Edit balancer</summary><form method=\"post\" action=\"" + base +
              "\" class=\"balancer\">");
  Hidden(out, "nonce", info.nonce);
  Hidden(out, "b", b.name);
  out->append("<label>Method<select name=\"b_lbm\">");
  for (config::LbMethod m : {config::LbMethod::kByRequests, config::LbMethod::kByBusyness,
                             config::LbMethod::kByTraffic}) {
    std::string n = config::LbMethodName(m);
    out->append("<option value=\"" + n + "\"" + (m == b.lbmethod ? " selected" : "") + ">" + n +
                "</option>");
  }
  out->append(
      "</select></label><label>Max attempts<input name=\"b_max\" type=\"number\" "
      "min=\"0\" max=\"99\" placeholder=\"members - 1\" value=\"" +
      (b.maxattempts_setting >= 0 ? std::to_string(b.maxattempts_setting) : "") + "\"></label>");
  std::string tmo = b.timeout_ms % 1000 == 0 ? std::to_string(b.timeout_ms / 1000)
                                             : std::to_string(b.timeout_ms) + "ms";
  out->append("<label>Timeout (s)<input name=\"b_tmo\" size=\"6\" value=\"" + tmo +
              "\"></label><fieldset><legend>Failover</legend><label>");
  Hidden(out, "b_sforce", "0");
  out->append("<input type=\"checkbox\" name=\"b_sforce\" value=\"1\"" +
              std::string(b.nofailover ? " checked" : "") +
              ">No failover</label></fieldset><button type=\"submit\">Save</button></form>"
              "</details>\n");

  out->append(
      "<table><thead><tr><th class=\"num\">#</th><th>Member</th><th>Route</th><th>Redirect</th>"
      "<th class=\"num\">Factor</th><th class=\"num\">Set</th><th>Status</th>"
      "<th class=\"num\">Elected</th><th class=\"num\">Busy</th><th class=\"num\">Load</th>"
      "<th class=\"num\">To</th><th class=\"num\">From</th><th class=\"num\">Failures</th>"
      "<th>Last error</th><th>Health check</th><th></th></tr></thead>\n<tbody>\n");
  for (const MemberSnapshot& m : b.members) {
    MemberRow(out, b, m, info);
  }
  out->append("</tbody></table>\n");

  if (b.free_slots > 0) {
    out->append(
        "<details class=\"add\"><summary>Add a member</summary><form method=\"post\" "
        "action=\"" +
        base + "\" class=\"add\">");
    Hidden(out, "nonce", info.nonce);
    Hidden(out, "b", b.name);
    Hidden(out, "b_wyes", "1");
    out->append(
        "<label>URL<input name=\"b_nwrkr\" required size=\"28\" "
        "placeholder=\"http://10.0.0.5:8080\"></label>"
        "<label>Route<input name=\"b_nwrkr_route\" maxlength=\"63\" size=\"10\"></label>"
        "<label>Load factor<input name=\"b_nwrkr_lf\" type=\"number\" min=\"1\" max=\"100\" "
        "step=\"0.01\" value=\"1\"></label>"
        "<label>LB set<input name=\"b_nwrkr_ls\" type=\"number\" min=\"0\" max=\"99\" "
        "value=\"0\"></label><fieldset><legend>Start</legend><label>");
    Hidden(out, "b_nwrkr_enable", "0");
    out->append(
        "<input type=\"checkbox\" name=\"b_nwrkr_enable\" value=\"1\">enabled "
        "(else Disabled, as in Apache)</label></fieldset>"
        "<button type=\"submit\">Add</button></form><span class=\"free\">" +
        std::to_string(b.free_slots) + " free slot" + (b.free_slots == 1 ? "" : "s") +
        "</span></details>\n");
  } else {
    out->append(
        "<p class=\"free\">No free member slot: give the balancer spare slots with "
        "<code>growth=N</code> to add members at run time.</p>\n");
  }
  out->append("</section>\n");
}

}  // namespace

std::vector<const char*> Badges(uint32_t status, bool usable) {
  std::vector<const char*> out;
  if (usable) {
    out.push_back("Ok");
  }
  static const std::pair<uint32_t, const char*> kNames[] = {
      {config::kFlagIgnoreErrors, "Ign"}, {config::kFlagDrain, "Drain"},
      {config::kFlagDisabled, "Dis"},     {config::kFlagStandby, "Stby"},
      {config::kFlagSpare, "Spare"},      {config::kFlagStopped, "Stop"},
      {config::kFlagError, "Err"},        {config::kFlagHcFailed, "HcFail"},
  };
  for (const auto& [bit, name] : kNames) {
    if ((status & bit) != 0) {
      out.push_back(name);
    }
  }
  return out;
}

const char* HealthState(const MemberSnapshot& m) {
  if ((m.status & config::kFlagHcFailed) != 0) {
    return "failed";
  }
  if (!HasHealthCheck(m)) {
    return "off";
  }
  return m.hc_last_ms == 0 ? "pending" : "ok";
}

void AppendMemberJson(std::string* out, const MemberSnapshot& m) {
  out->push_back('{');
  Field(out, "index", true);
  out->append(std::to_string(m.index));
  Str(out, "url", m.url);
  Str(out, "route", m.route);
  Str(out, "redirect", m.redirect);
  Field(out, "loadfactor");
  out->append(FormatHundredths(m.lbfactor));
  Num(out, "lbfactor", m.lbfactor);
  Num(out, "lbset", m.lbset);
  Str(out, "status", config::StatusLetters(m.status));
  Field(out, "flags");
  out->push_back('[');
  bool first = true;
  for (const char* name : Badges(m.status, m.usable)) {
    if (!first) {
      out->push_back(',');
    }
    first = false;
    AppendString(out, name);
  }
  out->push_back(']');
  Bool(out, "usable", m.usable);
  Bool(out, "from_config", m.from_config);
  UNum(out, "elected", m.elected);
  Num(out, "busy", m.busy);
  Num(out, "lbstatus", m.lbstatus);
  UNum(out, "bytes_in", m.bytes_in);
  UNum(out, "bytes_out", m.bytes_out);
  UNum(out, "failures", m.failures);
  UNum(out, "retries", m.retries);
  Num(out, "error_time_ms", m.error_time_ms);
  Field(out, "hc");
  out->push_back('{');
  Field(out, "state", true);
  AppendString(out, HealthState(m));
  if (HasHealthCheck(m)) {
    const config::HealthCheck& hc = m.config->hc;
    Str(out, "method", HcMethodName(hc.method));
    Str(out, "uri", hc.uri);
    Num(out, "interval_ms", hc.interval_ms);
    Num(out, "passes", hc.passes);
    Num(out, "fails", hc.fails);
  }
  Num(out, "consecutive_passes", m.hc_passes);
  Num(out, "consecutive_fails", m.hc_fails);
  Num(out, "last_ms", m.hc_last_ms);
  out->append("}}");
}

void AppendBalancerJson(std::string* out, const BalancerSnapshot& b) {
  const config::BalancerConfig& c = *b.config;
  out->push_back('{');
  Field(out, "index", true);
  out->append(std::to_string(b.index));
  Str(out, "name", b.name);
  Str(out, "lbmethod", config::LbMethodName(b.lbmethod));
  Str(out, "stickysession", StickyText(c));
  Str(out, "stickysessionsep", c.sticky_sep);
  Bool(out, "nofailover", b.nofailover);
  Num(out, "maxattempts", b.maxattempts);
  Num(out, "maxattempts_setting", b.maxattempts_setting);
  Num(out, "timeout_ms", b.timeout_ms);
  Bool(out, "forcerecovery", c.forcerecovery);
  Field(out, "failonstatus");
  out->push_back('[');
  for (size_t i = 0; i < c.failonstatus.size(); ++i) {
    out->append((i == 0 ? "" : ",") + std::to_string(c.failonstatus[i]));
  }
  out->push_back(']');
  Bool(out, "failontimeout", c.failontimeout);
  Num(out, "growth", c.growth);
  UNum(out, "capacity", b.capacity);
  UNum(out, "slots_used", b.slots_used);
  UNum(out, "members_used", b.members.size());
  UNum(out, "free_slots", b.free_slots);
  UNum(out, "wupdated", b.wupdated);
  UNum(out, "lock_recoveries", b.lock_recoveries);
  Field(out, "members");
  out->push_back('[');
  for (size_t i = 0; i < b.members.size(); ++i) {
    if (i > 0) {
      out->push_back(',');
    }
    AppendMemberJson(out, b.members[i]);
  }
  out->append("]}");
}

std::string RenderJson(const std::vector<BalancerSnapshot>& balancers, const PageInfo& info) {
  std::string out = "{";
  Field(&out, "server", true);
  AppendString(&out, info.server_name);
  Str(&out, "version", DROVER_VERSION);
  UNum(&out, "generation", info.generation);
  Num(&out, "now_ms", info.now_ms);
  Str(&out, "nonce", info.nonce);
  Str(&out, "api", ApiUrl(info.base));
  Field(&out, "balancers");
  out.push_back('[');
  for (size_t i = 0; i < balancers.size(); ++i) {
    if (i > 0) {
      out.push_back(',');
    }
    AppendBalancerJson(&out, balancers[i]);
  }
  out.append("]}\n");
  return out;
}

std::string RenderHtml(const std::vector<BalancerSnapshot>& balancers, const PageInfo& info) {
  std::string out;
  out.reserve(16384 + balancers.size() * 8192);
  const std::string server = HtmlEscape(info.server_name);
  out.append(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>balancer-manager \u00b7 " +
      server + "</title><style>");
  out.append(kStyle);
  out.append("</style></head>\n<body data-base=\"" + HtmlEscape(info.base) +
             "\">\n<header>"
             "<h1>drover balancer-manager</h1><p>" +
             server + " \u00b7 drover " + DROVER_VERSION + " \u00b7 generation " +
             std::to_string(info.generation) + " \u00b7 " + std::to_string(balancers.size()) +
             " balancer" + (balancers.size() == 1 ? "" : "s") + " \u00b7 <span id=\"updated\">" +
             FormatTimeUtc(info.now_ms) + "</span></p></header>\n");
  if (!info.notice.empty()) {
    out.append("<p class=\"notice\">" + HtmlEscape(info.notice) + "</p>\n");
  }
  out.append(
      "<p id=\"changed\" hidden>Members were added or removed since this page was loaded: "
      "<a href=\"" +
      HtmlEscape(info.base) + "\">reload</a>.</p>\n");
  for (const BalancerSnapshot& b : balancers) {
    BalancerSection(&out, b, info);
  }
  out.append("<footer><p>Status: ");
  for (const char* name : {"Ok", "Ign", "Drain", "Dis", "Stby", "Spare", "Stop", "Err", "HcFail"}) {
    Badge(&out, name);
  }
  out.append(
      "</p><p>Load = lbstatus; To / From = bytes sent to / read from the member. "
      "Edits apply to every worker at once and are kept across a reload (HUP). "
      "JSON: <a href=\"?format=json\">?format=json</a>; API: <code>" +
      HtmlEscape(ApiUrl(info.base)) + "/BALANCER/members[/INDEX_OR_ROUTE]</code>");
  if (!info.metrics_path.empty()) {
    out.append("; metrics: <a href=\"" + HtmlEscape(info.metrics_path) + "\">" +
               HtmlEscape(info.metrics_path) + "</a>");
  }
  out.append(".</p></footer>\n<script>");
  out.append(kScript);
  out.append("</script>\n</body></html>\n");
  return out;
}

std::string_view PageScript() { return kScript; }

}  // namespace drover::status
