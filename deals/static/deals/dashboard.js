/*
 * The deals dashboard: renders only what /api/deals/ returns (the API applies the one
 * zombie rule), keeps the user's place (page, sort, filters) in the URL, and never does
 * arithmetic on money: cents are integers, formatted as strings.
 */
(function () {
  "use strict";

  var DEFAULT_ORDERING = "-profit_cents";
  var DEFAULT_PAGE_SIZE = 25;
  var FILTER_KEYS = [
    "min_profit_cents", "min_margin", "min_roi", "max_sales_rank", "min_percent_down", "min_drops_30",
    "min_deal_trust", "category", "search", "hide_amazon", "verified", "exclude_conditions", "min_seller_score",
  ];
  // The used conditions a seller may leave out (the API's exclude_conditions names).
  var CONDITIONS = [
    ["like_new", "Like New"], ["very_good", "Very Good"], ["good", "Good"], ["acceptable", "Acceptable"],
  ];
  // Columns whose first click sorts best-first (largest); the others sort ascending first.
  var DESCENDING_FIRST = [
    "profit_cents", "margin_percent", "roi_percent", "percent_down", "one_year_avg_cents", "keepa_updated_at",
    "sales_rank_drops_30", "deal_trust_percent",
  ];
  var AUTO_REFRESH_MS = 60000;
  // A recharge an operator forces from a terminal shows here within a second (one cheap Redis read).
  var BUCKET_REFRESH_MS = 1000;
  var SVG_NS = "http://www.w3.org/2000/svg";

  /* ---------- formatting (pure) ---------- */

  function groupDigits(digits) {
    return digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  /** Integer cents -> "$1,234.56" by string slicing, so no float ever rounds money. */
  function formatCents(cents) {
    if (cents === null || cents === undefined || cents === "") return "—";
    var text = String(cents);
    if (!/^-?\d+$/.test(text)) return "—";
    var negative = text.charAt(0) === "-";
    var digits = (negative ? text.slice(1) : text).replace(/^0+(?=\d)/, "");
    while (digits.length < 3) digits = "0" + digits;
    return (negative ? "-" : "") + "$" + groupDigits(digits.slice(0, -2)) + "." + digits.slice(-2);
  }

  /** "$45", "45.5", "1,045.50" -> 4500, 4550, 104550 (integers); null when blank; NaN when invalid. */
  function dollarsToCents(text) {
    var value = String(text || "").trim().replace(/[$,\s]/g, "");
    if (value === "") return null;
    var match = /^(\d+)(?:\.(\d{0,2}))?$/.exec(value);
    if (!match) return NaN;
    var fraction = (match[2] || "").padEnd(2, "0");
    return parseInt(match[1], 10) * 100 + parseInt(fraction, 10);
  }

  /** 4500 -> "45", 4550 -> "45.50": what the min-profit field shows for a stored filter. */
  function centsToDollarsInput(cents) {
    var text = String(cents);
    if (!/^\d+$/.test(text)) return "";
    while (text.length < 3) text = "0" + text;
    var whole = text.slice(0, -2).replace(/^0+(?=\d)/, "");
    var fraction = text.slice(-2);
    return fraction === "00" ? whole : whole + "." + fraction;
  }

  /** Decimal strings from the API ("25.50") -> "25.50%": shown as computed, never via float. */
  function formatPercent(value) {
    if (value === null || value === undefined || value === "") return "—";
    return String(value) + "%";
  }

  function formatInteger(value) {
    if (value === null || value === undefined || value === "") return "—";
    var text = String(value);
    return /^\d+$/.test(text) ? groupDigits(text) : text;
  }

  function formatAge(seconds) {
    if (seconds === null || !isFinite(seconds)) return "—";
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + " s";
    if (s < 3600) return Math.floor(s / 60) + " min";
    if (s < 86400) return Math.floor(s / 3600) + " h";
    return Math.floor(s / 86400) + " d";
  }

  function formatDuration(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "unknown";
    var s = Math.max(0, Math.round(seconds));
    if (s < 60) return s + " s";
    var minutes = Math.floor(s / 60);
    if (minutes < 60) return minutes + " min";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }

  /* ---------- sparkline (pure: data in, SVG element out) ---------- */

  /**
   * The list's sparkline: the used price at evenly spaced moments over the last year (null
   * before the first known price) as a step line, with horizontal lines for List at and the
   * 1yr average. Keepa prices hold until the next change, hence steps.
   */
  function sparkline(samples, listAtCents, avgCents, width, height) {
    width = width || 100;
    height = height || 32;
    var count = (samples || []).length;
    var points = [];
    (samples || []).forEach(function (cents, i) {
      if (typeof cents === "number" && cents >= 0) points.push([count > 1 ? i / (count - 1) : 1, cents]);
    });
    if (!points.length) return null;

    var values = points.map(function (p) { return p[1]; });
    [listAtCents, avgCents].forEach(function (v) { if (typeof v === "number" && v > 0) values.push(v); });
    var low = Math.min.apply(null, values);
    var high = Math.max.apply(null, values);
    if (high === low) high = low + 1;
    var pad = 2;
    var x = function (share) { return pad + share * (width - 2 * pad); };
    var y = function (c) { return pad + (1 - (c - low) / (high - low)) * (height - 2 * pad); };
    var fix = function (n) { return n.toFixed(1); };

    var d = "M" + fix(x(points[0][0])) + " " + fix(y(points[0][1]));
    for (var i = 1; i < points.length; i++) {
      d += " H" + fix(x(points[i][0])) + " V" + fix(y(points[i][1]));
    }
    d += " H" + fix(x(1));

    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("role", "img");
    var prices = points.map(function (p) { return p[1]; });
    var label = "Used price over the last year: low " + formatCents(Math.min.apply(null, prices)) +
      ", high " + formatCents(Math.max.apply(null, prices)) +
      "; List at " + formatCents(listAtCents) + "; 1yr avg " + formatCents(avgCents);
    svg.setAttribute("aria-label", label);
    var title = document.createElementNS(SVG_NS, "title");
    title.textContent = label;
    svg.appendChild(title);
    [[avgCents, "spark-avg"], [listAtCents, "spark-list"]].forEach(function (line) {
      if (typeof line[0] !== "number" || line[0] <= 0) return;
      var rule = document.createElementNS(SVG_NS, "line");
      rule.setAttribute("class", line[1]);
      rule.setAttribute("x1", pad);
      rule.setAttribute("x2", width - pad);
      rule.setAttribute("y1", fix(y(line[0])));
      rule.setAttribute("y2", fix(y(line[0])));
      svg.appendChild(rule);
    });
    var path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("class", "spark-price");
    path.setAttribute("d", d);
    svg.appendChild(path);
    return svg;
  }

  /* ---------- state in the URL ---------- */

  function readState(search) {
    var params = new URLSearchParams(search);
    var page = parseInt(params.get("page") || "1", 10);
    var size = parseInt(params.get("page_size") || "", 10);
    var filters = {};
    FILTER_KEYS.forEach(function (key) {
      var value = params.get(key);
      if (value !== null && value !== "") filters[key] = value;
    });
    return {
      page: page > 0 ? page : 1,
      pageSize: size > 0 ? size : null,
      ordering: params.get("ordering") || DEFAULT_ORDERING,
      filters: filters,
    };
  }

  function stateParams(state) {
    var params = new URLSearchParams();
    FILTER_KEYS.forEach(function (key) {
      if (state.filters[key] !== undefined) params.set(key, state.filters[key]);
    });
    if (state.ordering !== DEFAULT_ORDERING) params.set("ordering", state.ordering);
    if (state.pageSize) params.set("page_size", String(state.pageSize));
    if (state.page > 1) params.set("page", String(state.page));
    return params;
  }

  function apiParams(state) {
    var params = stateParams(state);
    params.set("ordering", state.ordering);
    params.set("page_size", String(state.pageSize || DEFAULT_PAGE_SIZE));
    return params;
  }

  function describeFilters(filters) {
    var parts = [];
    if (filters.min_profit_cents) parts.push("profit ≥ " + formatCents(filters.min_profit_cents));
    if (filters.min_margin) parts.push("margin ≥ " + filters.min_margin + "%");
    if (filters.min_roi) parts.push("ROI ≥ " + filters.min_roi + "%");
    if (filters.max_sales_rank) parts.push("rank ≤ " + formatInteger(filters.max_sales_rank));
    if (filters.min_percent_down) parts.push("≥ " + filters.min_percent_down + "% below avg");
    if (filters.min_drops_30) parts.push("drops ≥ " + filters.min_drops_30);
    if (filters.min_deal_trust) parts.push("trust ≥ " + filters.min_deal_trust + "%");
    if (filters.category) parts.push("category " + filters.category);
    if (filters.search) parts.push("“" + filters.search + "”");
    if (filters.hide_amazon) parts.push("no Amazon");
    if (filters.verified === "false") parts.push("estimates shown");
    if (filters.exclude_conditions) parts.push("not " + filters.exclude_conditions.split(",").join(", ").replace(/_/g, " "));
    if (filters.min_seller_score) parts.push("seller ≥ " + filters.min_seller_score + "/10");
    return parts.length ? parts.join(", ") : "no filters";
  }

  var helpers = {
    formatCents: formatCents,
    dollarsToCents: dollarsToCents,
    centsToDollarsInput: centsToDollarsInput,
    formatPercent: formatPercent,
    formatAge: formatAge,
    sparkline: sparkline,
    readState: readState,
    stateParams: stateParams,
  };
  window.dealsDashboard = helpers;

  var root = document.getElementById("dashboard");
  if (!root) return;

  /* ---------- the page ---------- */

  var $ = function (id) { return document.getElementById(id); };
  var dealsUrl = root.dataset.dealsUrl;
  var tokensUrl = root.dataset.tokensUrl;
  var newUrl = root.dataset.newUrl;
  var presetsUrl = root.dataset.presetsUrl;
  var builtIn = JSON.parse(($("built-in-presets") || {}).textContent || "{}");
  var myPresets = [];
  var serverNowMs = Date.parse(root.dataset.serverNow);
  var loadedAtMs = Date.now();
  var state = readState(window.location.search);
  var inFlight = null;

  /** The server's clock as of now, so ages and "new" never depend on the browser's clock. */
  function serverNow() {
    var base = isFinite(serverNowMs) ? serverNowMs : loadedAtMs;
    return base + (Date.now() - loadedAtMs);
  }

  // "New since your last visit": the server keeps the baseline (the end of the previous
  // visit) and counts the matching deals; the page only shows what it says.
  var baseline = root.dataset.newSince;

  function fillForm(filters) {
    $("f-min-profit").value = filters.min_profit_cents ? centsToDollarsInput(filters.min_profit_cents) : "";
    $("f-min-margin").value = filters.min_margin || "";
    $("f-min-roi").value = filters.min_roi || "";
    $("f-max-rank").value = filters.max_sales_rank ? formatInteger(filters.max_sales_rank) : "";
    $("f-min-percent-down").value = filters.min_percent_down || "";
    $("f-min-drops").value = filters.min_drops_30 || "";
    $("f-min-trust").value = filters.min_deal_trust || "";
    $("f-category").value = filters.category || "";
    $("f-search").value = filters.search || "";
    $("f-hide-amazon").checked = filters.hide_amazon === "true";
    $("f-show-estimates").checked = filters.verified === "false";
    var excluded = (filters.exclude_conditions || "").split(",");
    CONDITIONS.forEach(function (c) { $("f-not-" + c[0]).checked = excluded.indexOf(c[0]) >= 0; });
    $("f-min-seller-score").value = filters.min_seller_score || "";
  }

  /** The form as API filters, or an error naming the field to fix. */
  function readForm() {
    var filters = {};
    var problems = [];
    var fields = [].slice.call(document.querySelectorAll("#filters input"));
    fields.forEach(function (input) { input.removeAttribute("aria-invalid"); });
    var bad = function (input, message) { input.setAttribute("aria-invalid", "true"); problems.push(message); };

    var profit = dollarsToCents($("f-min-profit").value);
    if (profit !== null && isNaN(profit)) bad($("f-min-profit"), "Min profit must be dollars, like 45 or 45.50.");
    else if (profit !== null) filters.min_profit_cents = String(profit);

    [
      ["f-min-margin", "min_margin", "Min margin"], ["f-min-roi", "min_roi", "Min ROI"],
      ["f-min-percent-down", "min_percent_down", "Min % below avg"],
    ].forEach(function (f) {
      var value = $(f[0]).value.trim().replace(/%$/, "");
      if (value === "") return;
      if (!/^-?\d+(\.\d+)?$/.test(value)) bad($(f[0]), f[2] + " must be a percentage, like 20.");
      else filters[f[1]] = value;
    });

    var rank = $("f-max-rank").value.trim().replace(/[,\s]/g, "");
    if (rank !== "" && !/^\d+$/.test(rank)) bad($("f-max-rank"), "Max rank must be a whole number.");
    else if (rank !== "") filters.max_sales_rank = rank.replace(/^0+(?=\d)/, "");

    var drops = $("f-min-drops").value.trim();
    if (drops !== "" && !/^\d+$/.test(drops)) bad($("f-min-drops"), "Min rank drops must be a whole number.");
    else if (drops !== "") filters.min_drops_30 = drops.replace(/^0+(?=\d)/, "");
    var trust = $("f-min-trust").value.trim().replace(/%$/, "");
    if (trust !== "" && !(/^\d+(\.\d+)?$/.test(trust) && Number(trust) <= 100)) {
      bad($("f-min-trust"), "Min deal trust must be 0 to 100 percent, like 70.");
    } else if (trust !== "") filters.min_deal_trust = trust;

    var category = $("f-category").value.trim();
    if (category) filters.category = category;
    var search = $("f-search").value.trim();
    if (search) filters.search = search;
    if ($("f-hide-amazon").checked) filters.hide_amazon = "true";
    if ($("f-show-estimates").checked) filters.verified = "false";
    var excluded = CONDITIONS.filter(function (c) { return $("f-not-" + c[0]).checked; });
    if (excluded.length) filters.exclude_conditions = excluded.map(function (c) { return c[0]; }).join(",");
    var score = $("f-min-seller-score").value.trim();
    if (score !== "" && !(/^\d+(\.\d)?$/.test(score) && Number(score) <= 10)) {
      bad($("f-min-seller-score"), "Min seller score must be 0 to 10, like 8 or 8.5.");
    } else if (score !== "") filters.min_seller_score = score;
    return { filters: filters, problems: problems };
  }

  function showFilterError(problems) {
    var box = $("filter-error");
    box.textContent = problems.join(" ");
    box.hidden = problems.length === 0;
  }

  function navigate(changes, replace) {
    Object.keys(changes).forEach(function (key) { state[key] = changes[key]; });
    var query = stateParams(state).toString();
    var url = window.location.pathname + (query ? "?" + query : "");
    if (replace) window.history.replaceState(null, "", url);
    else window.history.pushState(null, "", url);
    loadDeals();
  }

  /* ----- presets (the built-in Optimal, and the user's own, kept on the server) ----- */

  function onlyFilters(params) {
    var filters = {};
    FILTER_KEYS.forEach(function (key) {
      if (params && typeof params[key] === "string" && params[key] !== "") filters[key] = params[key];
    });
    return filters;
  }

  function applyFilters(filters) {
    var copy = onlyFilters(filters);
    fillForm(copy);
    showFilterError([]);
    navigate({ filters: copy, page: 1 });
  }

  function selectedPreset() {
    var id = $("preset").value;
    return myPresets.filter(function (p) { return String(p.id) === id; })[0] || null;
  }

  function renderPresets(selectId) {
    var select = $("preset");
    select.replaceChildren(new Option("Choose…", ""));
    myPresets.forEach(function (p) {
      var option = new Option(p.name + " (" + describeFilters(onlyFilters(p.params)) + ")", String(p.id));
      select.appendChild(option);
    });
    select.value = selectId ? String(selectId) : "";
    $("delete-preset").disabled = !selectedPreset();
  }

  function presetRequest(method, url, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrfToken },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(function (response) {
      if (response.status === 204) return { response: response, body: null };
      return response.json().catch(function () { return null; }).then(function (data) {
        return { response: response, body: data };
      });
    });
  }

  function loadPresets(selectId) {
    return presetRequest("GET", presetsUrl).then(function (result) {
      if (!result.response.ok || !Array.isArray(result.body)) return;
      myPresets = result.body;
      renderPresets(selectId);
    }).catch(function () { /* the presets wait; the deals still load */ });
  }

  function savePreset() {
    var form = readForm();
    var name = $("preset-name").value.trim();
    if (!name) {
      $("preset-name").setAttribute("aria-invalid", "true");
      form.problems.push("Give the preset a name.");
    }
    showFilterError(form.problems);
    if (form.problems.length) return;
    $("preset-name").removeAttribute("aria-invalid");
    var same = myPresets.filter(function (p) { return p.name === name; })[0];
    var request = same
      ? presetRequest("PUT", presetsUrl + same.id + "/", { name: name, params: form.filters })
      : presetRequest("POST", presetsUrl, { name: name, params: form.filters });
    request.then(function (result) {
      if (!result.response.ok) {
        showFilterError(["Could not save the preset: " + errorText(result.body)]);
        return;
      }
      $("preset-name").value = "";
      $("status").textContent = "Saved preset " + name + ": " + describeFilters(form.filters) + ".";
      loadPresets(result.body.id);
    }).catch(function () { showFilterError(["Could not reach the server to save the preset."]); });
  }

  function deletePreset() {
    var preset = selectedPreset();
    if (!preset) return;
    presetRequest("DELETE", presetsUrl + preset.id + "/").then(function () { loadPresets(); });
  }

  /* ----- rendering ----- */

  function cell(row, text, className) {
    var td = document.createElement("td");
    if (className) td.className = className;
    if (text !== undefined && text !== null) td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function link(href, text, label) {
    var a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    if (label) a.setAttribute("aria-label", label);
    return a;
  }

  function badge(text, className, title) {
    var span = document.createElement("span");
    span.className = "badge " + className;
    span.textContent = text;
    if (title) span.title = title;
    return span;
  }

  function secondsSince(iso, nowMs) {
    var t = Date.parse(iso || "");
    return isFinite(t) ? (nowMs - t) / 1000 : null;
  }

  function isNew(deal) {
    var created = Date.parse(deal.created_at || "");
    var seen = Date.parse(baseline || "");
    // The list gives times to the second: a deal made in the baseline's second counts as new.
    return isFinite(created) && isFinite(seen) && created >= Math.floor(seen / 1000) * 1000;
  }

  /** "avg (estimate)" when the 1yr average is Keepa's listing average, not inferred sales. */
  function averageCell(tr, deal) {
    var td = cell(tr, formatCents(deal.one_year_avg_cents), "num avg");
    if (deal.one_year_avg_source === "keepa") {
      td.appendChild(badge("estimate", "badge-estimate",
        "No sale inferred in the last year: Keepa's 365-day Used listing average instead"));
    } else if (deal.one_year_avg_source === "sales") {
      td.title = "Mean of the sales inferred over the last year";
    }
    return td;
  }

  function seasonCell(tr, deal) {
    var td = cell(tr, null, "season");
    td.textContent = deal.peak_season ? "peak " + deal.peak_season : "—";
    if (deal.trough_season) {
      var trough = document.createElement("span");
      trough.className = "muted sub trough";
      trough.textContent = "buy " + deal.trough_season +
        (deal.expected_trough_cents ? " ~" + formatCents(deal.expected_trough_cents) : "");
      trough.title = "Trough: the cheapest month of the inferred sales and its median price";
      td.appendChild(trough);
    }
    return td;
  }

  function renderRow(deal, nowMs) {
    var tr = document.createElement("tr");
    tr.dataset.asin = deal.asin;
    if (isNew(deal)) tr.classList.add("is-new");

    var asinCell = cell(tr, null, "asin");
    var asin = encodeURIComponent(deal.asin);
    asinCell.appendChild(link("https://www.amazon.com/dp/" + asin, deal.asin, deal.asin + " on Amazon"));
    var keepa = link("https://keepa.com/#!product/1-" + asin, "Keepa", deal.asin + " on Keepa");
    keepa.className = "keepa";
    asinCell.appendChild(keepa);

    var titleCell = cell(tr, null, "title");
    var title = document.createElement("a");
    title.href = "/deals/" + asin + "/";  // the deal view: history, how each figure was computed
    title.className = "deal-link";
    title.textContent = deal.title || "(untitled)";
    title.title = deal.title || "";
    titleCell.appendChild(title);
    if (deal.category) {
      var category = document.createElement("span");
      category.className = "category";
      category.textContent = deal.category;
      titleCell.appendChild(category);
    }
    if (tr.classList.contains("is-new")) titleCell.appendChild(badge("New", "badge-new", "New since your last visit"));
    if (deal.amazon_sells) titleCell.appendChild(badge("Amazon sells", "badge-amazon", "Amazon itself offers this product"));

    cell(tr, deal.condition || "—", "condition");
    var buy = cell(tr, formatCents(deal.buy_price_cents), "num buy");
    if (deal.buy_price_cents !== null && deal.buy_price_cents !== undefined) {
      buy.title = "Item " + formatCents(deal.buy_price_cents - (deal.shipping_cents || 0)) + " + shipping " +
        formatCents(deal.shipping_cents || 0);
      var shipping = document.createElement("span");
      shipping.className = "muted sub";
      shipping.textContent = deal.shipping_cents ? "incl. " + formatCents(deal.shipping_cents) + " ship" : "free shipping";
      buy.appendChild(shipping);
    }
    var seller = cell(tr, null, "seller");
    if (deal.fulfillment) {
      seller.appendChild(badge(deal.fulfillment, "badge-" + deal.fulfillment.toLowerCase(),
        { FBA: "Fulfilled by Amazon", MFN: "The seller ships it", Amazon: "Sold by Amazon" }[deal.fulfillment]));
    }
    if (deal.seller_name || deal.seller_id) {
      var name = document.createElement("span");
      name.className = "seller-name";
      name.textContent = deal.seller_name || deal.seller_id;
      seller.appendChild(name);
    }
    if (deal.seller_score !== null && deal.seller_score !== undefined) {
      var score = document.createElement("span");
      score.className = "muted sub";
      score.textContent = "score " + deal.seller_score + "/10";
      seller.appendChild(score);
    }
    if (!seller.childNodes.length) seller.textContent = "—";
    var checked = cell(tr, null, "verified");
    if (deal.verification === "verified") {
      checked.appendChild(badge("verified " + formatAge(secondsSince(deal.verified_at, nowMs)) + " ago",
        deal.verification_stale ? "badge-warn" : "badge-verified",
        deal.verification_stale ? "Stale: the offer may have sold; it is being checked again" : "A live offer backs this deal"));
      if (deal.verification_stale) checked.appendChild(badge("stale", "badge-warn", "Being checked again"));
    } else {
      checked.appendChild(badge("estimate", "badge-estimate", "From Keepa's statistics; no live offer checked yet"));
    }
    cell(tr, formatInteger(deal.sales_rank), "num rank");
    cell(tr, formatInteger(deal.sales_rank_drops_30), "num");
    cell(tr, formatPercent(deal.deal_trust_percent), "num trust");
    cell(tr, formatInteger(deal.used_offer_count), "num");
    seasonCell(tr, deal);
    averageCell(tr, deal);
    cell(tr, formatCents(deal.price_now_cents), "num");
    cell(tr, formatPercent(deal.percent_down), "num");
    cell(tr, formatCents(deal.all_in_cost_cents), "num");
    cell(tr, formatCents(deal.min_list_price_cents), "num");
    var profit = cell(tr, formatCents(deal.profit_cents), "num profit");
    if (deal.list_at_suspicious) {
      profit.appendChild(badge("check", "badge-warn", "List at " + formatCents(deal.list_at_cents) +
        " is over 3× the used price now: check before buying"));
    } else {
      profit.title = "List at " + formatCents(deal.list_at_cents);
    }
    cell(tr, formatPercent(deal.margin_percent), "num");
    cell(tr, formatPercent(deal.roi_percent), "num roi");

    var age = cell(tr, formatAge(secondsSince(deal.created_at, nowMs)), "age");
    age.title = "Found " + (deal.created_at || "?") + "; Keepa data from " + (deal.keepa_updated_at || "?");
    if (deal.keepa_updated_at) {
      var keepaAge = document.createElement("span");
      keepaAge.className = "muted sub";
      keepaAge.textContent = "data " + formatAge(secondsSince(deal.keepa_updated_at, nowMs));
      age.appendChild(keepaAge);
    }

    var sparkCell = cell(tr, null, "spark-cell");
    var svg = sparkline(deal.sparkline, deal.list_at_cents, deal.one_year_avg_cents);
    if (svg) sparkCell.appendChild(svg);
    else sparkCell.textContent = "—";
    return tr;
  }

  /* On a phone each row is a card (dashboard.css): every cell carries its column's name. */
  function labelCells(row) {
    var headers = document.querySelectorAll("#deals thead th");
    Array.prototype.forEach.call(row.cells, function (td, i) {
      if (headers[i]) td.dataset.label = headers[i].textContent.trim();
    });
    return row;
  }

  function renderTable(data) {
    var body = $("deal-rows");
    var nowMs = serverNow();
    var fragment = document.createDocumentFragment();
    (data.results || []).forEach(function (deal) { fragment.appendChild(labelCells(renderRow(deal, nowMs))); });
    body.replaceChildren(fragment);
    if (!data.results || !data.results.length) {
      var tr = document.createElement("tr");
      cell(tr, Object.keys(state.filters).length ? "No deals match these filters." : "No deals yet.", "empty")
        .colSpan = 21;
      body.appendChild(tr);
    }
  }

  function renderSortHeaders() {
    var field = state.ordering.replace(/^-/, "");
    var descending = state.ordering.charAt(0) === "-";
    document.querySelectorAll("#deals th[data-order]").forEach(function (th) {
      if (th.dataset.order === field) th.setAttribute("aria-sort", descending ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    });
  }

  function renderPager(count, shown, estimated) {
    var size = state.pageSize || DEFAULT_PAGE_SIZE;
    var pages = Math.max(1, Math.ceil(count / size));
    var first = count ? (state.page - 1) * size + 1 : 0;
    var about = estimated ? "about " : ""; // the API estimates counts above 10,000 matches
    $("page-info").textContent = "Page " + state.page + " of " + about + pages;
    $("prev-page").disabled = state.page <= 1;
    $("next-page").disabled = state.page >= pages;
    $("status").textContent = count
      ? "Showing " + first + "–" + (first + shown - 1) + " of " + about + count + " deals (" + describeFilters(state.filters) + ")"
      : "No deals (" + describeFilters(state.filters) + ")";
  }

  /** The server's count of deals new since the last visit that match the active filters. */
  function loadNewCount() {
    var params = new URLSearchParams();
    FILTER_KEYS.forEach(function (key) {
      if (state.filters[key] !== undefined) params.set(key, state.filters[key]);
    });
    return fetch(newUrl + "?" + params.toString(), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) { if (body) renderNewNotice(body); })
      .catch(function () { /* the notice waits for the next refresh */ });
  }

  function renderNewNotice(body) {
    if (body.since) baseline = body.since;
    var box = $("new-deals");
    box.hidden = !body.count;
    if (body.count) {
      $("new-deals-text").textContent = (body.count_exact ? "" : "Over ") + body.count + " new deal" +
        (body.count === 1 ? "" : "s") + " since your last visit (" + new Date(body.since).toLocaleString() +
        ") match your filters.";
    }
  }

  function showLoadError(message, loginLink) {
    var box = $("load-error");
    box.replaceChildren(document.createTextNode(message));
    if (loginLink) {
      box.appendChild(document.createTextNode(" "));
      var a = document.createElement("a");
      a.href = loginLink;
      a.textContent = "Log in again";
      box.appendChild(a);
    }
    box.hidden = false;
  }

  function errorText(body) {
    if (!body || typeof body !== "object") return "";
    return Object.keys(body).map(function (key) {
      var value = body[key];
      return (key === "detail" ? "" : key + ": ") + (Array.isArray(value) ? value.join(" ") : String(value));
    }).join("; ");
  }

  function syncPageSize() {
    var select = $("page-size");
    var size = String(state.pageSize || DEFAULT_PAGE_SIZE);
    if (!select.querySelector('option[value="' + size + '"]')) {
      var option = document.createElement("option");
      option.value = option.textContent = size;
      select.appendChild(option);
    }
    select.value = size;
  }

  function loadDeals() {
    if (inFlight) inFlight.abort();
    var controller = new AbortController();
    inFlight = controller;
    renderSortHeaders();
    syncPageSize();
    root.setAttribute("aria-busy", "true");
    return fetch(dealsUrl + "?" + apiParams(state).toString(), {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      signal: controller.signal,
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        return { response: response, body: body };
      });
    }).then(function (result) {
      var response = result.response;
      if (response.status === 404 && state.page > 1) {
        navigate({ page: 1 }, true); // the page emptied since the link was made
        return;
      }
      if (response.status === 401 || response.status === 403) {
        showLoadError("Your session has ended.", "/admin/login/?next=" +
          encodeURIComponent(window.location.pathname + window.location.search));
        return;
      }
      if (!response.ok || !result.body) {
        showLoadError("Could not load deals (" + response.status + "). " + errorText(result.body));
        return;
      }
      $("load-error").hidden = true;
      renderTable(result.body);
      renderPager(result.body.count || 0, (result.body.results || []).length, result.body.count_exact === false);
      loadNewCount();
      $("refreshed").textContent = "Updated " + new Date().toLocaleTimeString();
      root.dataset.loaded = "true";
    }).catch(function (error) {
      if (error.name !== "AbortError") showLoadError("Could not reach the server; showing the last deals loaded.");
    }).finally(function () {
      if (inFlight === controller) {
        inFlight = null;
        root.removeAttribute("aria-busy");
      }
    });
  }

  /* ----- the token bucket widget ----- */

  function renderBucket(status) {
    var box = $("bucket");
    if (status.known === false) {
      box.dataset.state = "unknown";
      $("bucket-tokens").textContent = "—";
      $("bucket-detail").textContent = "No Keepa reading yet: the first call will tell.";
      return;
    }
    var capacity = status.capacity;
    var meter = $("bucket-meter");
    meter.max = capacity > 0 ? capacity : 1;
    meter.value = Math.max(0, Math.min(status.tokens || 0, meter.max));
    meter.low = meter.max * 0.1;
    meter.high = meter.max * 0.5;
    meter.optimum = meter.max;
    $("bucket-tokens").textContent = formatInteger(status.tokens) + " / " + formatInteger(capacity) + " tokens";
    var parts = [];
    var state = status.state || (status.fatal_pause ? "paused" : status.recharge_active ? "recharging" : "active");
    if (state === "paused") {
      parts.push("Paused" + (status.fatal_reason ? ": " + status.fatal_reason : ""));
    } else if (state === "recharging") {
      var eta = status.recharge_eta_seconds;
      parts.push("Recharging to " + formatInteger(status.recharge_threshold) +
        (eta !== null && eta !== undefined ? ", ready in ~" + formatDuration(eta) : ""));
    } else {
      parts.push("Active");
    }
    parts.push("refill " + formatInteger(status.refill_rate) + "/min");
    if (status.in_flight_tokens > 0) parts.push(formatInteger(status.in_flight_tokens) + " reserved");
    if (typeof status.last_reading_age_seconds === "number") {
      parts.push("last Keepa reading " + formatDuration(status.last_reading_age_seconds) + " ago");
    }
    box.dataset.state = state;
    $("bucket-detail").textContent = parts.join(" · ");
  }

  function loadBucket() {
    return fetch(tokensUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(renderBucket)
      .catch(function () {
        $("bucket").dataset.state = "unavailable";
        $("bucket-tokens").textContent = "—";
        $("bucket-detail").textContent = "Token status unavailable right now.";
      });
  }

  /* ----- wiring ----- */

  fillForm(state.filters);
  loadPresets();

  $("filters").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = readForm();
    showFilterError(form.problems);
    if (form.problems.length) return;
    $("preset").value = "";
    navigate({ filters: form.filters, page: 1 });
  });
  $("clear-filters").addEventListener("click", function () {
    fillForm({});
    showFilterError([]);
    $("preset").value = "";
    navigate({ filters: {}, page: 1 });
  });
  $("optimal-preset").addEventListener("click", function () {
    $("preset").value = "";
    $("delete-preset").disabled = true;
    if (builtIn.optimal) applyFilters(builtIn.optimal.params);
  });
  $("preset").addEventListener("change", function () {
    var preset = selectedPreset();
    $("delete-preset").disabled = !preset;
    if (preset) {
      $("preset-name").value = preset.name;
      applyFilters(preset.params);
    }
  });
  $("save-preset").addEventListener("click", savePreset);
  $("delete-preset").addEventListener("click", deletePreset);
  document.querySelectorAll("#deals th[data-order] button").forEach(function (button) {
    button.addEventListener("click", function () {
      var field = button.parentElement.dataset.order;
      var current = state.ordering.replace(/^-/, "");
      var ordering;
      if (current === field) ordering = state.ordering.charAt(0) === "-" ? field : "-" + field;
      else ordering = DESCENDING_FIRST.indexOf(field) >= 0 ? "-" + field : field;
      navigate({ ordering: ordering, page: 1 });
    });
  });
  $("prev-page").addEventListener("click", function () { navigate({ page: Math.max(1, state.page - 1) }); });
  $("next-page").addEventListener("click", function () { navigate({ page: state.page + 1 }); });
  $("page-size").addEventListener("change", function (event) {
    navigate({ pageSize: parseInt(event.target.value, 10), page: 1 });
  });
  $("refresh").addEventListener("click", function () { loadDeals(); loadBucket(); });
  $("mark-seen").addEventListener("click", function () {
    fetch(newUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": root.dataset.csrfToken },
    }).then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) { if (body) renderNewNotice(body); })
      .catch(function () { /* still marked on the page; the server is told next time */ });
    $("new-deals").hidden = true;
    document.querySelectorAll("#deal-rows tr.is-new").forEach(function (tr) { tr.classList.remove("is-new"); });
    document.querySelectorAll("#deal-rows .badge-new").forEach(function (b) { b.remove(); });
  });
  window.addEventListener("popstate", function () {
    state = readState(window.location.search);
    fillForm(state.filters);
    loadDeals();
  });
  window.setInterval(function () {
    if (document.visibilityState === "visible" && !inFlight) loadDeals();
  }, AUTO_REFRESH_MS);
  window.setInterval(function () {
    if (document.visibilityState === "visible") loadBucket();
  }, BUCKET_REFRESH_MS);

  /* Filters fold away on a phone, at the width where dashboard.css turns rows into cards. */
  var phone = window.matchMedia("(max-width: 700px)");
  function foldFilters() { $("filters-fold").open = !phone.matches; }
  phone.addEventListener("change", foldFilters);
  foldFilters();

  loadDeals();
  loadBucket();
  root.dataset.ready = "true";
})();
