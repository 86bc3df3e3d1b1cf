// The workbench: GraphiQL (console/static/vendor) over /console/workbench/graphql, with the
// declaration above it sent as headers, the caller's own visible schema, and the answer's error
// codes explained under the editor. No inline script: the console's CSP forbids it.
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  var explained = document.getElementById("wb-explained");
  var list = document.getElementById("wb-explanations");
  var codes = JSON.parse(explained.getAttribute("data-codes"));
  var at = explained.getAttribute("data-at");

  function value(id) {
    return document.getElementById(id).value.trim();
  }

  // header values are ASCII: other text is sent percent-encoded as UTF-8 (docs/purposes.md)
  function declaration() {
    var headers = { "Content-Type": "application/json", "X-CSRF-Token": csrf };
    var purpose = value("wb-purpose");
    var caseId = value("wb-case");
    var justification = value("wb-justification");
    if (purpose) headers["X-Purpose"] = purpose;
    if (caseId) headers["X-Case-Id"] = encodeURIComponent(caseId);
    if (justification) headers["X-Justification"] = encodeURIComponent(justification);
    return headers;
  }

  function explain(result) {
    list.textContent = "";
    var errors = (result && result.errors) || [];
    var shown = 0;
    errors.forEach(function (error) {
      var code = error.extensions && error.extensions.code;
      if (!code) return;
      var item = document.createElement("li");
      var name = document.createElement("code");
      name.textContent = code;
      item.appendChild(name);
      var words = codes[code] || error.message || "";
      item.appendChild(document.createTextNode(": " + words));
      if (error.path) {
        item.appendChild(document.createTextNode(" (" + at + " "));
        var path = document.createElement("code");
        path.textContent = error.path.join(".");
        item.appendChild(path);
        item.appendChild(document.createTextNode(")"));
      }
      list.appendChild(item);
      shown += 1;
    });
    explained.hidden = shown === 0;
  }

  function fetcher(params) {
    return fetch("/console/workbench/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: declaration(),
      body: JSON.stringify(params),
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (result) {
        explain(result);
        return result;
      });
  }

  function start(schema) {
    var container = document.getElementById("graphiql");
    container.textContent = "";
    var query = new URLSearchParams(window.location.search).get("query");
    // nothing kept in the browser's storage: the next official at this browser must not find
    // this one's queries (the tabs and history live as long as the page)
    var kept = {};
    var storage = {
      getItem: function (key) { return Object.prototype.hasOwnProperty.call(kept, key) ? kept[key] : null; },
      setItem: function (key, value) { kept[key] = String(value); },
      removeItem: function (key) { delete kept[key]; },
      clear: function () { kept = {}; },
      get length() { return Object.keys(kept).length; },
    };
    var props = {
      fetcher: fetcher, schema: schema, defaultEditorToolsVisibility: false, storage: storage,
    };
    if (query) props.query = query;
    ReactDOM.createRoot(container).render(React.createElement(GraphiQL, props));
  }

  fetch("/console/workbench/schema", { credentials: "same-origin" })
    .then(function (response) {
      return response.json();
    })
    .then(function (result) {
      start(result.data || null);
    });
})();
