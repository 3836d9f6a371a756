// One self-contained HTML page per `tessera explain` run: the run's JSON report
// embedded as <script type="application/json" id="tessera-report">, and a script that
// draws every input's features as spans coloured by attribution (red positive, blue
// negative; intensity |a| / max |a| of that input):
//   <span class="feature" data-input="i" data-feature="j" data-value="a"
//         style="background-color: rgb(r, g, b)">text</span>
// PDP/ICE plots are embedded as PNG data: URIs. Once drawn, <body> carries
// data-rendered = the number of spans (what the headless-browser test checks).
#pragma once
#include <array>
#include <string>

#include <nlohmann/json.hpp>

namespace tessera::explain {

// report: {"run": {...}, "inputs": [{"features": [{"text", "attribution"}], ...}],
//          "plots": [{"title", "caption", "png_base64"}]}
std::string html_report(const nlohmann::json& report);
// The colour of attribution a in an input whose largest |attribution| is max_abs.
std::array<int, 3> attribution_rgb(double a, double max_abs);

}  // namespace tessera::explain
