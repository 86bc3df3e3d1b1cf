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

  // GraphiQL's own markup, made accessible without touching the vendored files: CodeMirror's
  // textareas get a name (query, variables, headers, response: in the page's language, from the
  // container's data-label-* attributes), and its scrollers, which CodeMirror takes out of the
  // tab order, can be reached and scrolled by keyboard (a named region). Colours:
  // workbench.css. Run after each render that adds elements; idempotent, a few nodes a pass.
  function editorName(container, node) {
    var kind = "other";
    if (node.closest(".graphiql-query-editor")) {
      kind = "query";
    } else if (node.closest(".result-window")) {
      kind = "response";
    } else {
      var editor = node.closest(".graphiql-editor-tool > .graphiql-editor");
      if (editor) {
        // GraphiQL renders the variables editor first, the headers editor second
        kind = editor.previousElementSibling ? "headers" : "variables";
      }
    }
    return container.getAttribute("data-label-" + kind) || container.getAttribute("data-label-other");
  }

  function set(node, name, value) {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  }

  function label(container) {
    container.querySelectorAll(".CodeMirror textarea").forEach(function (area) {
      set(area, "aria-label", editorName(container, area));
    });
    container.querySelectorAll(".CodeMirror-scroll").forEach(function (scroller) {
      set(scroller, "tabindex", "0");
      set(scroller, "role", "region");
      set(scroller, "aria-label", editorName(container, scroller));
    });
    // the bar of query tabs (shown once there are two): GraphiQL makes it a tablist whose tabs
    // hold buttons and which holds the "add tab" button, which ARIA does not allow; it is made a
    // toolbar of buttons instead, the active tab's button marked aria-current
    container.querySelectorAll(".graphiql-tabs").forEach(function (bar) {
      set(bar, "role", "toolbar");
      Array.prototype.forEach.call(bar.children, function (tab) {
        if (tab.tagName !== "LI") return;
        set(tab, "role", "none");
        if (tab.hasAttribute("aria-selected")) tab.removeAttribute("aria-selected");
        var button = tab.querySelector(".graphiql-tab-button");
        if (!button) return;
        if (tab.classList.contains("graphiql-tab-active")) {
          set(button, "aria-current", "true");
        } else if (button.hasAttribute("aria-current")) {
          button.removeAttribute("aria-current");
        }
      });
    });
  }

  function keepLabelled(container) {
    var pending = false;
    function pass() {
      pending = false;
      label(container);
    }
    function added(records) {
      for (var i = 0; i < records.length; i += 1) {
        if (records[i].type === "attributes") return true;
        var nodes = records[i].addedNodes;
        for (var j = 0; j < nodes.length; j += 1) {
          var node = nodes[j];
          if (node.nodeType === 1 && (node.matches(".CodeMirror, textarea, .graphiql-tabs, li") ||
              node.querySelector(".CodeMirror, textarea, .graphiql-tabs"))) {
            return true;
          }
        }
      }
      return false;
    }
    // only an added editor, textarea or tab bar, or GraphiQL setting a role or a tab's
    // selection, schedules a pass, at most one a frame: typing, which adds lines inside an
    // editor, does not
    new MutationObserver(function (records) {
      if (pending || !added(records)) return;
      pending = true;
      window.requestAnimationFrame(pass);
    }).observe(container, {
      childList: true, subtree: true, attributes: true, attributeFilter: ["role", "aria-selected"],
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
    keepLabelled(container);
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
