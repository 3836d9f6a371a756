#include "src/explain/html_report.hpp"

#include <cmath>

namespace tessera::explain {

std::array<int, 3> attribution_rgb(double a, double max_abs) {
  const double t = max_abs > 0 ? std::min(1.0, std::fabs(a) / max_abs) : 0.0;
  const int fade = int(std::lround(255.0 * (1.0 - t)));
  return a >= 0 ? std::array<int, 3>{255, fade, fade} : std::array<int, 3>{fade, fade, 255};
}

namespace {

// JSON inside <script>: no "</" can close the element.
std::string script_safe(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '<' && i + 1 < s.size() && s[i + 1] == '/') out += "<\\";
    else out.push_back(s[i]);
  }
  return out;
}

const char* kPage = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Tessera explanations</title>
<style>
body { font-family: sans-serif; margin: 2em; max-width: 70em; }
.input { border-top: 1px solid #ccc; padding: 0.8em 0; }
.feature { padding: 0.1em 0.2em; margin: 0 0.1em; border-radius: 0.2em; line-height: 1.9; }
.meta { color: #555; font-size: 0.9em; }
figure { display: inline-block; margin: 1em; }
table.columns { border-collapse: collapse; margin-top: 0.5em; }
table.columns td, table.columns th { border: 1px solid #ccc; padding: 0.1em 0.5em; text-align: left; }
</style></head>
<body>
<h1>Tessera explanations</h1>
<p class="meta" id="run"></p>
<div id="inputs"></div>
<div id="plots"></div>
<script type="application/json" id="tessera-report">@REPORT@</script>
<script>
(function () {
  var report = JSON.parse(document.getElementById('tessera-report').textContent);
  function colour(a, maxAbs) {  // same rule as attribution_rgb in src/explain/html_report.cpp
    var t = maxAbs > 0 ? Math.min(1, Math.abs(a) / maxAbs) : 0;
    var fade = Math.round(255 * (1 - t));
    return a >= 0 ? [255, fade, fade] : [fade, fade, 255];
  }
  var run = report.run || {};
  document.getElementById('run').textContent = Object.keys(run).map(function (k) {
    return k + ': ' + (typeof run[k] === 'object' ? JSON.stringify(run[k]) : run[k]);
  }).join(' · ');
  var spans = 0, columns = 0, host = document.getElementById('inputs');
  (report.inputs || []).forEach(function (inp, i) {
    var div = document.createElement('div');
    div.className = 'input';
    var head = document.createElement('p');
    head.className = 'meta';
    head.textContent = 'input ' + (inp.row !== undefined ? inp.row : i) + ' · ' + (inp.method || '') +
      ' · target ' + JSON.stringify(inp.target || {}) + ' · f(x) = ' + inp.full_value + ' · f(baseline) = ' + inp.base_value;
    div.appendChild(head);
    if (inp.question !== undefined) {  // question answering: the question (kept whole) and the explained span
      var q = document.createElement('p');
      q.className = 'meta qa';
      q.textContent = 'question: ' + inp.question + ' · answer: "' + (inp.span ? inp.span.answer : '') + '"' +
        (inp.span ? ' (characters ' + inp.span.start + '–' + inp.span.end + ' of the context)' : '');
      div.appendChild(q);
    }
    var feats = inp.features || [], maxAbs = 0;
    feats.forEach(function (f) { maxAbs = Math.max(maxAbs, Math.abs(f.attribution)); });
    feats.forEach(function (f, j) {
      var s = document.createElement('span'), c = colour(f.attribution, maxAbs);
      s.className = 'feature';
      s.setAttribute('data-input', String(i));
      s.setAttribute('data-feature', String(j));
      s.setAttribute('data-value', String(f.attribution));
      s.title = String(f.attribution);
      s.style.backgroundColor = 'rgb(' + c[0] + ', ' + c[1] + ', ' + c[2] + ')';
      s.textContent = f.text;
      div.appendChild(s);
      spans++;
    });
    if (inp.columns && inp.columns.length) {  // feature head: one row per auxiliary feature column
      var cmax = maxAbs;
      inp.columns.forEach(function (c) { if (c.attribution !== null) cmax = Math.max(cmax, Math.abs(c.attribution)); });
      var table = document.createElement('table');
      table.className = 'columns';
      var hr = document.createElement('tr');
      ['column', 'kind', 'value', 'attribution'].forEach(function (h) {
        var th = document.createElement('th');
        th.textContent = h;
        hr.appendChild(th);
      });
      table.appendChild(hr);
      inp.columns.forEach(function (c, j) {
        var tr = document.createElement('tr');
        tr.setAttribute('data-column', c.column);
        var cells = [c.column, c.kind, c.missing ? '(missing)' : c.value,
                     c.attribution === null ? 'excluded' : String(c.attribution)];
        cells.forEach(function (t, k) {
          var td = document.createElement('td');
          td.textContent = t;
          if (k === 3 && c.attribution !== null) {
            var col = colour(c.attribution, cmax);
            td.style.backgroundColor = 'rgb(' + col[0] + ', ' + col[1] + ', ' + col[2] + ')';
          }
          tr.appendChild(td);
        });
        table.appendChild(tr);
        columns++;
      });
      div.appendChild(table);
    }
    host.appendChild(div);
  });
  var plots = document.getElementById('plots');
  (report.plots || []).forEach(function (p) {
    var fig = document.createElement('figure'), img = document.createElement('img'), cap = document.createElement('figcaption');
    img.src = 'data:image/png;base64,' + p.png_base64;
    img.alt = p.title;
    cap.textContent = p.title + ' — ' + p.caption;
    fig.appendChild(img);
    fig.appendChild(cap);
    plots.appendChild(fig);
  });
  document.body.setAttribute('data-rendered', String(spans));
  document.body.setAttribute('data-columns', String(columns));
})();
</script>
</body></html>
)HTML";

}  // namespace

std::string html_report(const nlohmann::json& report) {
  std::string page = kPage;
  const std::string key = "@REPORT@";
  page.replace(page.find(key), key.size(), script_safe(report.dump()));
  return page;
}

}  // namespace tessera::explain
