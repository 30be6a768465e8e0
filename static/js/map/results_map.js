/*
 * The national results map (docs/live-data.md is the data contract).
 *
 * Boundaries: a static, content-hashed TopoJSON file (councils/boundary_layer.py), drawn by
 * WardCanvas, a subclass of Leaflet's canvas renderer that holds every ward. Results: /live/<date>/national.json, joined to the wards by
 * ward id, then kept current by the Server-Sent Events stream, or by polling the snapshot
 * with If-None-Match when the stream cannot be kept open. Only wards whose appearance
 * changed are restyled.
 *
 * Every name (ward, council, candidate, party) is data: it reaches the page only as text
 * (textContent / text nodes), never as markup.
 */
(function () {
  "use strict";

  var GREY = "#c5c5c5";
  var NEUTRAL = "#8a8a8a";
  var FIGURES = { provisional: true, verified: true, disputed: true };
  var FEED_LENGTH = 20;

  var state = {
    config: null,
    map: null,
    renderer: null,
    index: new Map(),         // ward id (string) -> its index in the renderer
    styles: new Map(),        // appearance key -> the style object drawn for it
    wardCouncil: new Map(),   // ward id -> council slug (from the boundary layer)
    councilWards: new Map(),  // council slug -> [ward id]
    councilNames: {},
    styleKeys: new Map(),     // ward id -> key of the appearance last drawn
    wards: {},                // ward id -> entry of national.json
    notUp: new Set(),
    electionCouncils: new Set(),
    councils: {},
    parties: {},
    scoreboard: null,
    latest: [],
    etag: null,
    epoch: null,              // national.json's epoch last applied (null before the first)
    stream: null,
    pollTimer: null,
    live: "connecting",
    selectedCouncil: null,
    tableDirty: true,
    patterns: new Map(),
    pendingWards: new Set(),
    pendingAll: false,
    panelsRequest: null,
    safetyTimer: null,
    tooltip: null
  };

  // ---------------------------------------------------------------- DOM helpers (text only)

  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        var value = attrs[name];
        if (value === null || value === undefined || value === false) return;
        if (name === "text") node.textContent = String(value);
        else if (name === "className") node.className = value;
        else if (name === "onclick") node.addEventListener("click", value);
        else node.setAttribute(name, value === true ? "" : String(value));
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === "string" || typeof child === "number"
        ? document.createTextNode(String(child)) : child);
    }
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function byId(id) { return document.getElementById(id); }

  function fill(template, key, value) {
    return template.replace("{" + key + "}", encodeURIComponent(value));
  }

  function formatTime(iso) {
    if (!iso) return "";
    var date = new Date(iso);
    if (isNaN(date.getTime())) return String(iso);
    return date.toLocaleString("en-GB", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }

  // ---------------------------------------------------------------- parties and appearance

  function party(id) {
    return state.parties[id] || { name: id, short: id, colour: "" };
  }

  function partyColour(id) {
    var colour = party(id).colour;
    return /^#[0-9a-fA-F]{6}$/.test(colour || "") ? colour : NEUTRAL;
  }

  function partyLabel(id) { return party(id).name || id; }

  /* "Labour 2, Conservative 1" from ["PP53", "PP53", "PP52"]. */
  function winnersText(winners) {
    var counts = new Map();
    winners.forEach(function (id) { counts.set(id, (counts.get(id) || 0) + 1); });
    var parts = [];
    counts.forEach(function (n, id) { parts.push(partyLabel(id) + (winners.length > 1 ? " " + n : "")); });
    return parts.join(", ");
  }

  function hasFigures(entry) {
    return entry && FIGURES[entry.status] && entry.winners && entry.winners.length > 0;
  }

  var STATUS_TEXT = {
    none: "No result yet", provisional: "Provisional", verified: "Verified",
    disputed: "Disputed: figures being checked", retracted: "Retracted"
  };
  var KIND_TEXT = {
    count_state: "Count progress", provisional: "Provisional result", verified: "Verified",
    disputed: "Keyings disagree", resolved: "Dispute resolved", corrected: "Corrected", retracted: "Retracted"
  };
  var COUNT_TEXT = { awaiting: "Awaiting count", counting: "Counting", recount: "Recount", declared: "Declared" };

  function describe(id) {
    var entry = state.wards[id];
    if (!entry) {
      var slug = state.wardCouncil.get(id);
      return state.notUp.has(id) || state.electionCouncils.has(slug)
        ? "No election in this ward" : "No election in this council";
    }
    var parts = [];
    if (hasFigures(entry)) {
      parts.push(winnersText(entry.winners));
      if (entry.result === "gain" && entry.gain_from) parts.push("gain from " + partyLabel(entry.gain_from));
      else if (entry.result === "hold") parts.push("hold");
    }
    parts.push(entry.count !== "declared" ? COUNT_TEXT[entry.count] || entry.count : STATUS_TEXT[entry.status] || entry.status);
    if (entry.count === "recount" && hasFigures(entry)) parts.push("recount");
    if (entry.uncontested) parts.push("uncontested");
    if (entry.rehearsal) parts.push("rehearsal");
    return parts.join(", ");
  }

  /* The appearance of one ward: a key (restyle only when it changes) and Leaflet options. */
  function appearance(id) {
    var entry = state.wards[id];
    if (!entry) {
      var outline = state.notUp.has(id) || state.electionCouncils.has(state.wardCouncil.get(id));
      return outline
        ? { key: "notup", style: { fill: false, stroke: true, color: "#6f6f6f", weight: 0.8, opacity: 0.9, dashArray: null } }
        : { key: "none", style: { fill: false, stroke: true, color: "#9a9a9a", weight: 0.5, opacity: 0.6, dashArray: null } };
    }
    var base = hasFigures(entry) ? stripeColours(entry.winners) : [];
    var overlay = "";
    if (!base.length) overlay = entry.count === "counting" || entry.count === "recount" ? "counting" : "";
    else if (entry.status === "provisional") overlay = "provisional";
    else if (entry.status === "disputed") overlay = "disputed";
    if (base.length && entry.uncontested) overlay += "+uncontested";
    var recount = entry.count === "recount";
    var key = (base.join("|") || "grey") + "/" + overlay + (recount ? "/recount" : "");
    var style = {
      fill: true, fillOpacity: 1, stroke: true,
      color: recount ? "#b00020" : "#ffffff", weight: recount ? 2 : 0.5, opacity: 1,
      dashArray: recount ? "4 3" : null
    };
    style.fillColor = (base.length > 1 || overlay) ? pattern(base.length ? base : [GREY], overlay) : (base[0] || GREY);
    return { key: key, style: style };
  }

  /* Seat colours grouped by party, largest first, so a ward's stripes (and the patterns made
     for them) do not depend on the order the winners are listed in. */
  function stripeColours(winners) {
    if (winners.length === 1) return [partyColour(winners[0])];
    var counts = new Map();
    winners.forEach(function (id) { counts.set(id, (counts.get(id) || 0) + 1); });
    var parties = Array.from(counts.keys()).sort(function (x, y) {
      return counts.get(y) - counts.get(x) || (x < y ? -1 : x > y ? 1 : 0);
    });
    var colours = [];
    parties.forEach(function (id) { for (var n = 0; n < counts.get(id); n++) colours.push(partyColour(id)); });
    return colours;
  }

  /* A canvas pattern: one vertical stripe per seat in its party's colour, with an overlay that
     marks provisional (light hatching), disputed (cross-hatching), counting (dark hatching)
     or uncontested (dots). Cached by its description. */
  function pattern(colours, overlay) {
    var cacheKey = colours.join("|") + "/" + overlay;
    var found = state.patterns.get(cacheKey);
    if (found) return found;
    var stripe = 4;
    var size = Math.max(8, stripe * colours.length);
    while (size % 8) size += stripe;
    // One scratch canvas for every pattern: createPattern copies the bitmap it is given.
    if (!state.patternCanvas) state.patternCanvas = document.createElement("canvas");
    var canvas = state.patternCanvas;
    if (canvas.width !== size) {
      canvas.width = size;
      canvas.height = size;
    }
    var ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, size, size);
    ctx.globalAlpha = 1;
    for (var x = 0; x < size; x += stripe) {
      ctx.fillStyle = colours[(x / stripe) % colours.length];
      ctx.fillRect(x, 0, stripe, size);
    }
    function hatch(colour, width, both) {
      ctx.strokeStyle = colour;
      ctx.lineWidth = width;
      ctx.beginPath();
      for (var d = -size; d <= size * 2; d += 8) {
        ctx.moveTo(d, 0); ctx.lineTo(d + size, size);
        if (both) { ctx.moveTo(d + size, 0); ctx.lineTo(d, size); }
      }
      ctx.stroke();
    }
    overlay.split("+").forEach(function (part) {
      if (part === "provisional") { ctx.globalAlpha = 0.6; hatch("#ffffff", 3, false); ctx.globalAlpha = 1; }
      else if (part === "disputed") hatch("#1b1b1b", 1.5, true);
      else if (part === "counting") hatch("#4a4a4a", 1.5, false);
      else if (part === "uncontested") {
        ctx.fillStyle = "#ffffff";
        for (var px = 2; px < size; px += 8) for (var py = 2; py < size; py += 8) ctx.fillRect(px, py, 2, 2);
      }
    });
    var made = ctx.createPattern(canvas, "repeat");
    state.patterns.set(cacheKey, made);
    return made;
  }

  /* Restyle the given wards (all when ids is null); returns how many changed. Only wards
     whose appearance changed are redrawn (in the next animation frame). */
  function restyle(ids) {
    var changed = 0;
    if (!state.renderer || !state.renderer.wardCount()) return 0;
    var looks = [];
    (ids || Array.from(state.index.keys())).forEach(function (id) {
      var index = state.index.get(id);
      if (index === undefined) return;
      var look = appearance(id);
      if (state.styleKeys.get(id) === look.key) return;
      state.styleKeys.set(id, look.key);
      looks.push([index, look]);
    });
    // Past a few hundred wards one redraw of everything is cheaper than as many small ones.
    var whole = looks.length > 300;
    looks.forEach(function (item) { state.renderer.setWardStyle(item[0], sharedStyle(item[1]), whole); });
    changed = looks.length;
    return changed;
  }

  /* One style object per appearance, so the renderer can fill all wards of a look at once. */
  function sharedStyle(look) {
    var style = state.styles.get(look.key);
    if (!style) {
      style = look.style;
      style.lineDash = style.dashArray ? style.dashArray.split(" ").map(Number) : [];
      state.styles.set(look.key, style);
    }
    return style;
  }

  // ---------------------------------------------------------------- boundaries

  /* Leaflet's canvas renderer, holding every ward itself. Drawing 8,000 wards as 8,000 Leaflet
     polygons costs a second before the first frame (each is an object with its own events,
     projection, clipping and simplification copies); this renderer keeps the wards' points in
     typed arrays, projected once at zoom 0 and scaled when drawn, draws all wards of one
     appearance as one path (one fill and one stroke), skips points closer than half a pixel,
     and finds the ward under the pointer itself. It keeps everything else from L.Canvas:
     its canvas, padding, panning, zoom animation, and partial redraws of changed areas. */
  var WardCanvas = L.Canvas.extend({
    setWards: function (wards) {
      this._wards = wards;
      this._styles = new Array(wards.count);
      return this;
    },

    wardCount: function () { return this._wards ? this._wards.count : 0; },

    /* Draw ward ``index`` with ``style`` from the next frame on: only its area is redrawn,
       or everything with ``whole`` (cheaper than many areas when most wards change). */
    setWardStyle: function (index, style, whole) {
      this._styles[index] = style;
      if (!this._map) return;
      this._redrawRequest = this._redrawRequest || L.Util.requestAnimFrame(this._redraw, this);
      if (whole) this._whole = true;
      if (this._whole) return;
      var box = this._wardPixelBox(index);
      var pad = (style.weight || 0) + 1;
      this._redrawBounds = this._redrawBounds || new L.Bounds();
      this._redrawBounds.extend(L.point(box[0] - pad, box[1] - pad));
      this._redrawBounds.extend(L.point(box[2] + pad, box[3] + pad));
    },

    _redraw: function () {
      if (this._whole) {
        this._redrawBounds = null;
        this._whole = false;
      }
      L.Canvas.prototype._redraw.call(this);
    },

    _transform: function () {
      return { scale: this._map.getZoomScale(this._map.getZoom(), 0), origin: this._map.getPixelOrigin() };
    },

    _wardPixelBox: function (index) {
      var t = this._transform(), box = this._wards.box, b = index * 4;
      return [box[b] * t.scale - t.origin.x, box[b + 1] * t.scale - t.origin.y,
              box[b + 2] * t.scale - t.origin.x, box[b + 3] * t.scale - t.origin.y];
    },

    _updatePaths: function () {
      if (this._postponeUpdatePaths) return;
      this._redrawBounds = null;
      this._redraw();
    },

    _draw: function () {
      var wards = this._wards;
      if (!wards || !this._map) return;
      var ctx = this._ctx, clip = this._redrawBounds, view = clip || this._bounds;
      var t = this._transform(), scale = t.scale, ox = t.origin.x, oy = t.origin.y;
      var box = wards.box, groups = new Map();
      for (var i = 0; i < wards.count; i++) {
        var b = i * 4;
        if (box[b] * scale - ox > view.max.x || box[b + 2] * scale - ox < view.min.x ||
            box[b + 1] * scale - oy > view.max.y || box[b + 3] * scale - oy < view.min.y) continue;
        var style = this._styles[i];
        if (!style) continue;
        var list = groups.get(style);
        if (!list) groups.set(style, list = []);
        list.push(i);
      }
      ctx.save();
      if (clip) {
        var size = clip.getSize();
        ctx.beginPath();
        ctx.rect(clip.min.x, clip.min.y, size.x, size.y);
        ctx.clip();
      }
      var self = this;
      groups.forEach(function (list, style) {
        ctx.beginPath();
        for (var n = 0; n < list.length; n++) self._trace(ctx, list[n], scale, ox, oy);
        if (style.fill) {
          ctx.globalAlpha = style.fillOpacity;
          ctx.fillStyle = style.fillColor;
          ctx.fill("nonzero");
        }
        if (style.stroke && style.weight) {
          ctx.setLineDash(style.lineDash || []);
          ctx.globalAlpha = style.opacity;
          ctx.lineWidth = style.weight;
          ctx.strokeStyle = style.color;
          ctx.lineJoin = "round";
          ctx.stroke();
        }
      });
      ctx.restore();
    },

    _trace: function (ctx, index, scale, ox, oy) {
      var wards = this._wards, coords = wards.coords, ringStart = wards.ringStart;
      for (var r = wards.wardRings[index]; r < wards.wardRings[index + 1]; r++) {
        var start = ringStart[r], end = ringStart[r + 1];
        var lastX = coords[start] * scale - ox, lastY = coords[start + 1] * scale - oy;
        ctx.moveTo(lastX, lastY);
        for (var k = start + 2; k < end; k += 2) {
          var x = coords[k] * scale - ox, y = coords[k + 1] * scale - oy;
          if (x - lastX < 0.5 && lastX - x < 0.5 && y - lastY < 0.5 && lastY - y < 0.5) continue;
          ctx.lineTo(x, y);
          lastX = x;
          lastY = y;
        }
        ctx.closePath();
      }
    },

    /* The ward under a layer point (the last drawn, as it is on top), or -1. */
    wardAt: function (point) {
      var wards = this._wards;
      if (!wards) return -1;
      var t = this._transform(), scale = t.scale, ox = t.origin.x, oy = t.origin.y;
      var px = (point.x + ox) / scale, py = (point.y + oy) / scale;  // back to zoom 0
      var box = wards.box, coords = wards.coords, ringStart = wards.ringStart, found = -1;
      for (var i = 0; i < wards.count; i++) {
        var b = i * 4;
        if (px < box[b] || px > box[b + 2] || py < box[b + 1] || py > box[b + 3]) continue;
        var inside = false;
        for (var r = wards.wardRings[i]; r < wards.wardRings[i + 1]; r++) {
          var start = ringStart[r], end = ringStart[r + 1];
          for (var k = start, j = end - 2; k < end; j = k, k += 2) {
            var xk = coords[k], yk = coords[k + 1], xj = coords[j], yj = coords[j + 1];
            if ((yk > py) !== (yj > py) && px < (xj - xk) * (py - yk) / (yj - yk) + xk) inside = !inside;
          }
        }
        if (inside) found = i;
      }
      return found;
    },

    _onClick: function (e) {
      var map = this._map, point = map.mouseEventToLayerPoint(e);
      var index = this.wardAt(point);
      this._fireEvent(false, e);
      if (index >= 0 && e.type === "click" && !map._draggableMoved(this)) {
        this.fire("wardclick", { index: index, latlng: map.layerPointToLatLng(point), originalEvent: e });
      }
    },

    _onMouseMove: function (e) {
      if (!this._map || this._map.dragging.moving() || this._map._animatingZoom) return;
      this._fireEvent(false, e);
      this._pointer = e;
      if (this._hoverRequest) return;
      this._hoverRequest = L.Util.requestAnimFrame(function () {
        this._hoverRequest = null;
        if (!this._map || !this._pointer) return;
        var point = this._map.mouseEventToLayerPoint(this._pointer);
        var index = this.wardAt(point), latlng = this._map.layerPointToLatLng(point);
        if (index !== this._hovered) {
          if (this._hovered >= 0) this.fire("wardout", { index: this._hovered });
          this._hovered = index;
          L.DomUtil[index >= 0 ? "addClass" : "removeClass"](this._container, "leaflet-interactive");
        }
        if (index >= 0) this.fire("wardover", { index: index, latlng: latlng });
      }, this);
    },

    _handleMouseOut: function (e) {
      this._pointer = null;
      if (this._hovered >= 0) this.fire("wardout", { index: this._hovered });
      this._hovered = -1;
      if (this._container) L.DomUtil.removeClass(this._container, "leaflet-interactive");
      this._fireEvent(false, e);
    }
  });

  /* The wards of the boundary layer as typed arrays for WardCanvas: points projected at zoom 0
     (Web Mercator pixels; the closing point of each ring dropped), ring and ward offsets, and
     each ward's box in those pixels; plus each ward's bounds in degrees. */
  function decodeWards(topology) {
    var scale = topology.transform.scale, translate = topology.transform.translate;
    var geometries = topology.objects.wards.geometries, arcs = topology.arcs;
    var points = 0, rings = 0;
    geometries.forEach(function (g) {
      g.arcs.forEach(function (polygon) {
        polygon.forEach(function (ring) { points += arcs[ring[0]].length - 1; rings++; });
      });
    });
    var count = geometries.length;
    var coords = new Float64Array(points * 2), ringStart = new Uint32Array(rings + 1);
    var wardRings = new Uint32Array(count + 1), box = new Float64Array(count * 4);
    var degrees = new Float64Array(count * 4);
    var ids = new Array(count), councils = new Array(count);
    var crs = state.map.options.crs;
    var mercator = crs === L.CRS.EPSG3857;
    var R = 6378137, d = Math.PI / 180, max = L.Projection.SphericalMercator.MAX_LATITUDE, s = 0.5 / (Math.PI * R);
    var c = 0, r = 0;
    geometries.forEach(function (g, w) {
      ids[w] = String(g.id);
      councils[w] = g.properties.c;
      wardRings[w] = r;
      var minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
      var south = Infinity, west = Infinity, north = -Infinity, east = -Infinity;
      g.arcs.forEach(function (polygon) {
        polygon.forEach(function (ringRef) {
          var arc = arcs[ringRef[0]], x = 0, y = 0;
          ringStart[r++] = c;
          for (var i = 0; i < arc.length - 1; i++) {
            x += arc[i][0];
            y += arc[i][1];
            var lng = x * scale[0] + translate[0], lat = y * scale[1] + translate[1];
            var px, py;
            if (mercator) {
              // Leaflet's EPSG:3857 at zoom 0 (crs.latLngToPoint(latlng, 0)), without an object per point.
              var clamped = Math.max(Math.min(max, lat), -max), sin = Math.sin(clamped * d);
              px = 256 * (s * R * lng * d + 0.5);
              py = 256 * (-s * R * Math.log((1 + sin) / (1 - sin)) / 2 + 0.5);
            } else {
              var p = crs.latLngToPoint(L.latLng(lat, lng), 0);
              px = p.x;
              py = p.y;
            }
            coords[c++] = px;
            coords[c++] = py;
            if (px < minX) minX = px;
            if (px > maxX) maxX = px;
            if (py < minY) minY = py;
            if (py > maxY) maxY = py;
            if (lat < south) south = lat;
            if (lat > north) north = lat;
            if (lng < west) west = lng;
            if (lng > east) east = lng;
          }
        });
      });
      box[w * 4] = minX; box[w * 4 + 1] = minY; box[w * 4 + 2] = maxX; box[w * 4 + 3] = maxY;
      degrees[w * 4] = south; degrees[w * 4 + 1] = west; degrees[w * 4 + 2] = north; degrees[w * 4 + 3] = east;
    });
    ringStart[r] = c;
    wardRings[count] = r;
    return { count: count, coords: coords, ringStart: ringStart, wardRings: wardRings, box: box,
             degrees: degrees, ids: ids, councils: councils };
  }

  function drawBoundaries(topology) {
    state.councilNames = topology.councils || {};
    var wards = decodeWards(topology);
    state.decoded = wards;
    wards.ids.forEach(function (id, index) {
      var council = wards.councils[index];
      state.index.set(id, index);
      state.wardCouncil.set(id, council);
      if (!state.councilWards.has(council)) state.councilWards.set(council, []);
      state.councilWards.get(council).push(id);
    });
    state.renderer.setWards(wards);
    wards.ids.forEach(function (id, index) {
      var look = appearance(id);
      state.styleKeys.set(id, look.key);
      state.renderer._styles[index] = sharedStyle(look);
    });
    state.renderer.on("wardclick", function (event) { openWard(wards.ids[event.index], event.latlng, false); });
    state.renderer.on("wardover", function (event) {
      var id = wards.ids[event.index];
      if (state.tooltipWard !== id) {
        state.tooltipWard = id;
        state.tooltip.setContent(tooltipContent(id));
      }
      state.tooltip.setLatLng(event.latlng);
      if (!state.map.hasLayer(state.tooltip)) state.map.openTooltip(state.tooltip);
    });
    state.renderer.on("wardout", function () {
      state.tooltipWard = null;
      state.map.closeTooltip(state.tooltip);
    });
    state.map.addLayer(state.renderer);
  }

  /* A ward's bounds in degrees. */
  function wardLatLngBounds(id) {
    var index = state.index.get(id), d = state.decoded.degrees, b = index * 4;
    return L.latLngBounds([d[b], d[b + 1]], [d[b + 2], d[b + 3]]);
  }

  function tooltipContent(id) {
    var entry = state.wards[id];
    var council = state.wardCouncil.get(id);
    var name = entry ? entry.name : "";
    return el("span", null,
      name ? el("strong", { text: name }) : null, name ? " " : null,
      "(" + (state.councilNames[council] || council) + ")", el("br"), describe(id));
  }

  function wardBounds(ids) {
    var bounds = L.latLngBounds([]);
    ids.forEach(function (id) {
      if (state.index.has(id)) bounds.extend(wardLatLngBounds(id));
    });
    return bounds;
  }

  // ---------------------------------------------------------------- snapshot and stream

  /* Apply national.json. In another epoch the day went back (a rehearsal wiped, a ballot
     withdrawn): what this page holds, higher versions included, gives way to the document
     (docs/live-data.md), and the stream is followed afresh from the document's position
     unless ``keepStream`` (a withdrawn day: nothing to follow from). */
  function applySnapshot(doc, keepStream) {
    var reset = state.epoch !== null && (doc.epoch || "") !== state.epoch;
    state.epoch = doc.epoch || "";
    if (doc.stream || reset) state.streamPosition = doc.stream || "";
    state.parties = doc.parties || {};
    state.councils = doc.councils || {};
    state.scoreboard = doc.scoreboard || null;
    state.latest = (doc.latest || []).slice(0, FEED_LENGTH);
    state.rehearsal = !!doc.rehearsal;
    var changed = [];
    var incoming = doc.wards || {};
    Object.keys(incoming).forEach(function (id) {
      var before = state.wards[id];
      if (!reset && before && (before.v || 0) > (incoming[id].v || 0)) return;
      state.wards[id] = incoming[id];
      changed.push(id);
    });
    Object.keys(state.wards).forEach(function (id) {
      if (!(id in incoming)) { delete state.wards[id]; changed.push(id); }
    });
    var previousNotUp = state.notUp;
    state.notUp = new Set();
    state.electionCouncils = new Set(Object.keys(state.councils));
    Object.keys(doc.not_up || {}).forEach(function (slug) {
      state.electionCouncils.add(slug);
      doc.not_up[slug].forEach(function (id) { state.notUp.add(String(id)); });
    });
    Object.keys(state.wards).forEach(function (id) { state.electionCouncils.add(state.wards[id].council); });
    // Outline styles depend on which councils hold elections, so outlines are rechecked too.
    var ids = state.notUp.size !== previousNotUp.size ? null : changed.concat(outlineIds());
    restyle(ids);
    refreshPanels();
    if (reset && state.stream && !keepStream) {
      // Follow the stream from this document's position: nothing after it is missed.
      state.stream.close();
      state.stream = null;
      connectStream(state.streamPosition);
    }
  }

  function outlineIds() {
    var ids = [];
    state.styleKeys.forEach(function (key, id) { if (key === "notup" || key === "none") ids.push(id); });
    return ids;
  }

  function applyWardEvent(data) {
    // A publication's summaries ride on its last events (docs/live-data.md) and are newer
    // than anything before them on the stream, whatever the ward's own version.
    if (data.council_summary && data.council) state.councils[data.council] = data.council_summary;
    if (data.scoreboard) state.scoreboard = data.scoreboard;
    var id = String(data.ward);
    var before = state.wards[id];
    if (before && (before.v || 0) > (data.v || 0)) {
      if (data.council_summary || data.scoreboard) refreshPanels();
      return;
    }
    var entry = {};
    Object.keys(data).forEach(function (key) {
      if (key !== "ward" && key !== "council_summary" && key !== "latest" && key !== "scoreboard" && key !== "parties") entry[key] = data[key];
    });
    state.wards[id] = entry;
    if (entry.council) state.electionCouncils.add(entry.council);
    if (data.parties) Object.keys(data.parties).forEach(function (p) { state.parties[p] = data.parties[p]; });
    if (data.latest && data.latest.ballot) {
      state.latest = [data.latest].concat(state.latest.filter(function (item) { return item.ballot !== data.latest.ballot; }))
        .slice(0, FEED_LENGTH);
    }
    restyle([id]);
    state.tableDirty = true;
    refreshPanels(id);
    var missing = (entry.winners || []).some(function (p) { return !state.parties[p]; });
    if (missing) fetchSnapshot();
  }

  function fetchSnapshot() {
    var headers = state.etag ? { "If-None-Match": state.etag } : {};
    return fetch(state.config.snapshot, { cache: "no-store", headers: headers }).then(function (response) {
      if (response.status === 304) return false;
      if (!response.ok) {
        if (response.status === 404) {
          // A day withdrawn (its rehearsal wiped) after this page showed it: nothing stands.
          if (state.epoch) applySnapshot({ epoch: "" }, true);
          setLive(state.live, "No results published for this day yet.");
        }
        return false;
      }
      state.etag = response.headers.get("ETag");
      return response.json().then(function (doc) {
        applySnapshot(doc);
        state.tableDirty = true;
        return true;
      });
    }).catch(function () { return false; });
  }

  function setLive(mode, note) {
    state.live = mode;
    var node = byId("map-live");
    if (!node) return;
    var text = { live: "Live: updates appear as results are declared.",
                 polling: "Checking for new results every " + state.config.pollSeconds + " seconds.",
                 connecting: "Connecting…" }[mode] || "";
    node.textContent = text + (note ? " " + note : "");
    node.setAttribute("data-mode", mode);
  }

  function connectStream(lastId) {
    if (!window.EventSource) { startPolling(); return; }
    var failures = 0;
    var url = state.config.stream + (lastId ? "&last_id=" + encodeURIComponent(lastId) : "");
    var stream = new EventSource(url);
    state.stream = stream;
    stream.addEventListener("ward", function (event) {
      if (event.lastEventId) state.streamPosition = event.lastEventId;
      try { applyWardEvent(JSON.parse(event.data)); } catch (e) { fetchSnapshot(); }
    });
    stream.addEventListener("open", function () {
      if (failures > 0) fetchSnapshot();  // catch up on anything the stream could not replay
      failures = 0;
      stopPolling();
      setLive("live");
      // A slow check of the snapshot (304 while unchanged) in case the stream stalls unseen.
      if (!state.safetyTimer) {
        state.safetyTimer = window.setInterval(fetchSnapshot, state.config.safetyPollSeconds * 1000);
      }
    });
    stream.addEventListener("error", function () {
      failures++;
      if (stream.readyState === EventSource.CLOSED || failures >= 3) {
        stream.close();
        state.stream = null;
        startPolling();
        // Try the stream again later: most failures are a proxy or a passing outage.
        window.setTimeout(function () { connectStream(state.streamPosition); }, 60000);
      }
    });
  }

  function startPolling() {
    if (state.pollTimer) return;
    setLive("polling");
    state.pollTimer = window.setInterval(fetchSnapshot, state.config.pollSeconds * 1000);
  }

  function stopPolling() {
    if (!state.pollTimer) return;
    window.clearInterval(state.pollTimer);
    state.pollTimer = null;
  }

  // ---------------------------------------------------------------- panels

  /* Redraw the panels in the next frame, once however many events arrived: a burst of
     declarations costs one rebuild. ``changedId`` names the ward an event changed (none: a
     whole snapshot). */
  function refreshPanels(changedId) {
    if (changedId) state.pendingWards.add(changedId);
    else state.pendingAll = true;
    if (state.panelsRequest) return;
    state.panelsRequest = window.requestAnimationFrame(function () {
      state.panelsRequest = null;
      var changed = state.pendingWards, all = state.pendingAll;
      state.pendingWards = new Set();
      state.pendingAll = false;
      drawPanels(changed, all);
    });
  }

  function drawPanels(changed, all) {
    renderRehearsal();
    renderScoreboard();
    renderFeed();
    renderLegend();
    var council = state.selectedCouncil;
    if (council && (all || Array.from(changed).some(function (id) { return (state.wards[id] || {}).council === council; }))) {
      renderCouncil(council);
    }
    var details = byId("map-table-details");
    if (details && details.open && state.tableDirty) renderTable();
    if (state.openWard && (all || changed.has(state.openWard))) openWard(state.openWard, null, false, true);
  }

  function renderRehearsal() {
    var banner = byId("map-rehearsal");
    if (!banner) return;
    banner.hidden = !state.rehearsal && !Object.keys(state.wards).some(function (id) { return state.wards[id].rehearsal; });
  }

  function partyCell(id, suffix) {
    return el("span", { className: "party" },
      el("span", { className: "swatch", style: "background:" + partyColour(id), "aria-hidden": "true" }),
      partyLabel(id) + (suffix || ""));
  }

  function renderScoreboard() {
    var box = byId("map-scoreboard");
    if (!box) return;
    clear(box);
    var board = state.scoreboard;
    if (!board) { box.appendChild(el("p", { text: "No results yet." })); return; }
    box.appendChild(el("p", { text: board.councils_declared + " of " + board.councils + " councils declared" }));
    var seats = Object.keys(board.seats || {}).sort(function (a, b) {
      return (board.seats[b].won || 0) - (board.seats[a].won || 0);
    });
    if (!seats.length) return;
    var body = el("tbody");
    seats.forEach(function (id) {
      var row = board.seats[id];
      var change = row.change || 0;
      body.appendChild(el("tr", null, el("th", { scope: "row" }, partyCell(id)),
        el("td", { className: "num", text: row.won || 0 }),
        el("td", { className: "num", text: change > 0 ? "+" + change : String(change) })));
    });
    box.appendChild(el("div", { className: "table-wrap" }, el("table", null,
      el("caption", { text: "Seats won, by party" }),
      el("thead", null, el("tr", null, el("th", { scope: "col", text: "Party" }),
        el("th", { scope: "col", className: "num", text: "Seats" }),
        el("th", { scope: "col", className: "num", text: "Change" }))),
      body)));
  }

  function renderFeed() {
    var list = byId("map-feed");
    if (!list) return;
    clear(list);
    if (!state.latest.length) { list.appendChild(el("li", { text: "No declarations yet." })); return; }
    state.latest.forEach(function (item) {
      var id = String(item.ward);
      var what = item.winners && item.winners.length ? winnersText(item.winners) : "declared";
      if (item.gain_from) what += " gain from " + partyLabel(item.gain_from);
      list.appendChild(el("li", null,
        el("button", { type: "button", className: "linkish", onclick: function () { openWard(id, null, true); } },
          item.name + " (" + item.council_name + ")"),
        ": " + what + " ", el("time", { datetime: item.declared_at || "", text: formatTime(item.declared_at) })));
    });
  }

  function renderLegend() {
    var list = byId("map-legend-parties");
    if (!list) return;
    var seen = new Map();
    Object.keys(state.wards).forEach(function (id) {
      var entry = state.wards[id];
      if (hasFigures(entry)) entry.winners.forEach(function (p) { seen.set(p, (seen.get(p) || 0) + 1); });
    });
    clear(list);
    Array.from(seen.keys()).sort(function (a, b) { return seen.get(b) - seen.get(a); }).forEach(function (p) {
      list.appendChild(el("li", null, partyCell(p, ": " + seen.get(p) + " seat" + (seen.get(p) === 1 ? "" : "s"))));
    });
  }

  function seatBar(summary) {
    var total = summary.total || 0;
    var bar = el("div", { className: "seat-bar", role: "img",
      "aria-label": "Seats by party; " + (summary.majority ? summary.majority + " for a majority" : "") });
    var seats = summary.seats || {};
    Object.keys(seats).sort(function (a, b) { return seats[b] - seats[a]; }).forEach(function (p) {
      bar.appendChild(el("span", { className: "seat-bar__part",
        style: "width:" + (total ? (100 * seats[p] / total).toFixed(2) : 0) + "%;background:" + partyColour(p),
        title: partyLabel(p) + ": " + seats[p] }));
    });
    if (summary.majority && total) {
      bar.appendChild(el("span", { className: "seat-bar__majority", style: "left:" + (100 * summary.majority / total).toFixed(2) + "%" }));
    }
    return bar;
  }

  function renderCouncil(slug) {
    var panel = byId("map-council");
    if (!panel) return;
    clear(panel);
    panel.hidden = false;
    var summary = state.councils[slug];
    var name = (summary && summary.name) || state.councilNames[slug] || slug;
    panel.appendChild(el("h2", { id: "map-council-title", tabindex: "-1", text: name }));
    if (!summary) {
      panel.appendChild(el("p", { text: state.electionCouncils.has(slug) ? "No results yet." : "No election in this council on this day." }));
    } else {
      panel.appendChild(el("p", { text: summary.declared + " of " + summary.ballots + " wards declared." }));
      var control = summary.control === "NOC" ? "No overall control"
        : summary.control ? partyLabel(summary.control) + " control" : "Control not yet known";
      panel.appendChild(el("p", null, el("strong", { text: control }),
        summary.total ? " (" + summary.total + " seats, " + summary.majority + " for a majority)" : ""));
      panel.appendChild(seatBar(summary));
      var body = el("tbody");
      var seats = summary.seats || {};
      Object.keys(seats).sort(function (a, b) { return seats[b] - seats[a]; }).forEach(function (p) {
        body.appendChild(el("tr", null, el("th", { scope: "row" }, partyCell(p)),
          el("td", { className: "num", text: seats[p] }),
          el("td", { className: "num", text: (summary.gains || {})[p] || 0 }),
          el("td", { className: "num", text: (summary.losses || {})[p] || 0 })));
      });
      panel.appendChild(el("div", { className: "table-wrap" }, el("table", null,
        el("caption", { text: "Council seats by party" }),
        el("thead", null, el("tr", null, el("th", { scope: "col", text: "Party" }),
          el("th", { scope: "col", className: "num", text: "Seats" }),
          el("th", { scope: "col", className: "num", text: "Gains" }),
          el("th", { scope: "col", className: "num", text: "Losses" }))), body)));
    }
    if (state.electionCouncils.has(slug)) {
      panel.appendChild(el("p", null, el("a", { href: fill(state.config.councilPage, "council", slug), text: "Council results page" })));
      var wardsBox = el("div", { id: "map-council-wards" });
      panel.appendChild(wardsBox);
      loadCouncilWards(slug, wardsBox);
    }
  }

  /* The council's wards with the candidates elected, from its council document. */
  function loadCouncilWards(slug, box) {
    fetch(fill(state.config.councilDocument, "council", slug), { cache: "no-cache" }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (doc) {
      if (!doc || !box.isConnected || state.selectedCouncil !== slug) return;
      var body = el("tbody");
      (doc.ballots || []).forEach(function (record) {
        var id = String(record.ward);
        var elected = el("td");
        (record.candidates || []).filter(function (c) { return c.elected; }).forEach(function (c, n) {
          if (n) elected.appendChild(el("br"));
          elected.appendChild(document.createTextNode(c.name + " (" + (c.party_name || partyLabel(c.party)) + ")"));
        });
        body.appendChild(el("tr", { "data-ward": id },
          el("th", { scope: "row" }, el("button", { type: "button", className: "linkish",
            onclick: function () { openWard(id, null, true); } }, record.ward_name + (record.by ? " (by-election)" : ""))),
          el("td", { text: describe(id) }), elected));
      });
      clear(box).appendChild(el("div", { className: "table-wrap" }, el("table", { className: "council-wards" },
        el("caption", { text: "Wards of " + (doc.name || slug) + " and the candidates elected" }),
        el("thead", null, el("tr", null, el("th", { scope: "col", text: "Ward" }),
          el("th", { scope: "col", text: "Status" }), el("th", { scope: "col", text: "Elected" }))),
        body)));
    }).catch(function () { /* the panel keeps the scoreboard */ });
  }

  function showCouncil(slug, focus) {
    var ids = state.councilWards.get(slug) || [];
    state.selectedCouncil = slug;
    renderCouncil(slug);
    var bounds = wardBounds(ids);
    if (bounds.isValid()) state.map.fitBounds(bounds, { padding: [10, 10] });
    setHash("council=" + slug);
    if (focus) byId("map-council-title").focus();
  }

  // ---------------------------------------------------------------- ward details

  function openWard(id, latlng, focus, refreshOnly) {
    if (!state.index.has(id)) return;
    var bounds = wardLatLngBounds(id);
    var entry = state.wards[id];
    if (refreshOnly && !(state.popup && state.popup.isOpen())) return;
    state.openWard = id;
    var content = el("div", { className: "ward-popup", tabindex: "-1" });
    fillWardSummary(content, id, entry);
    var position = latlng || (state.popup && state.popup.isOpen() && refreshOnly ? state.popup.getLatLng() : bounds.getCenter());
    if (!state.popup) state.popup = L.popup({ maxWidth: 360, minWidth: 240, autoPanPadding: [20, 20] });
    state.popup.setLatLng(position).setContent(content);
    if (!state.popup.isOpen()) state.popup.openOn(state.map);
    if (!refreshOnly) {
      if (!latlng) state.map.fitBounds(bounds, { maxZoom: Math.max(state.map.getZoom(), 10) });
      setHash("ward=" + id);
    }
    if (focus) content.focus();
    if (entry && entry.ballot && entry.status !== "none") {
      var url = fill(state.config.ballot, "ballot", entry.ballot);
      fetch(url, { cache: "no-cache" }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (record) {
        if (record && state.openWard === id && content.isConnected) fillWardRecord(content, id, record);
      }).catch(function () { /* the summary stays */ });
    }
  }

  function fillWardSummary(content, id, entry) {
    var council = entry ? entry.council : state.wardCouncil.get(id);
    var councilName = (state.councils[council] && state.councils[council].name) || state.councilNames[council] || council;
    clear(content);
    if (entry && entry.rehearsal) content.appendChild(el("p", { className: "status status--rehearsal", text: "Rehearsal data" }));
    content.appendChild(el("h3", { text: entry ? entry.name : "Ward" }));
    content.appendChild(el("p", null, el("button", { type: "button", className: "linkish",
      onclick: function () { showCouncil(council, true); } }, councilName)));
    content.appendChild(el("p", { className: "ward-popup__status", text: describe(id) }));
    if (entry && entry.ballot) {
      content.appendChild(el("p", null, el("a", { href: fill(state.config.ballotPage, "ballot", entry.ballot), text: "Full result page" })));
    } else {
      content.appendChild(el("p", null, el("a", { href: fill(state.config.wardPage, "ward", id), text: "Ward page" })));
    }
  }

  function fillWardRecord(content, id, record) {
    clear(content);
    if (record.rehearsal) content.appendChild(el("p", { className: "status status--rehearsal", text: "Rehearsal data" }));
    content.appendChild(el("h3", { text: record.ward_name + (record.by ? " by-election" : "") }));
    content.appendChild(el("p", null, el("button", { type: "button", className: "linkish",
      onclick: function () { showCouncil(record.council, true); } }, record.council_name)));
    var status = [STATUS_TEXT[record.status] || record.status];
    if (record.count && record.count !== "declared") status.push(COUNT_TEXT[record.count] || record.count);
    if (record.uncontested) status.push("uncontested");
    if (record.result === "gain" && record.gain_from) status.push("gain from " + partyLabel(record.gain_from));
    else if (record.result === "hold") status.push("hold");
    content.appendChild(el("p", { className: "ward-popup__status", text: status.join(", ") }));
    var body = el("tbody");
    (record.candidates || []).forEach(function (c) {
      body.appendChild(el("tr", { className: c.elected ? "elected" : null },
        el("th", { scope: "row", text: c.name }),
        el("td", null, partyCell(c.party, "")),
        el("td", { className: "num", text: c.votes === null || c.votes === undefined ? "—" : c.votes }),
        el("td", { className: "num", text: c.share ? c.share + "%" : "—" }),
        el("td", { text: c.elected ? (c.won_by_lot ? "Elected (by lot)" : "Elected") : "" })));
    });
    content.appendChild(el("div", { className: "table-wrap" }, el("table", { className: "result-table" },
      el("caption", { text: "Candidates (" + record.seats + " seat" + (record.seats === 1 ? "" : "s") + ")" }),
      el("thead", null, el("tr", null, el("th", { scope: "col", text: "Candidate" }),
        el("th", { scope: "col", text: "Party" }), el("th", { scope: "col", className: "num", text: "Votes" }),
        el("th", { scope: "col", className: "num", text: "Share" }), el("th", { scope: "col", text: "Elected" }))),
      body)));
    var facts = el("dl", { className: "facts" });
    function fact(label, value) {
      if (value === null || value === undefined || value === "") return;
      facts.appendChild(el("dt", { text: label }));
      facts.appendChild(el("dd", { text: value }));
    }
    fact("Turnout", record.turnout ? record.turnout + "%" : null);
    fact("Declared", formatTime(record.declared_at));
    fact("Source", record.source);
    fact("Version", record.v);
    content.appendChild(facts);
    if (record.history && record.history.length) {
      var history = el("ol", { className: "history" });
      record.history.forEach(function (h) {
        var item = el("li", null, formatTime(h.at) + ": " + (KIND_TEXT[h.kind] || h.kind) + " (version " + h.v + ")" +
          (h.reason ? ", " + h.reason : ""));
        if (h.changes && h.changes.length) {
          var changes = el("ul");
          h.changes.forEach(function (change) {
            changes.appendChild(el("li", { text: [change.field, change.before, change.after].filter(function (v) { return v !== undefined; }).join(": ") }));
          });
          item.appendChild(changes);
        }
        history.appendChild(item);
      });
      content.appendChild(el("h4", { text: "History" }));
      content.appendChild(history);
    }
    content.appendChild(el("p", null, el("a", { href: fill(state.config.ballotPage, "ballot", record.ballot), text: "Full result page" })));
  }

  // ---------------------------------------------------------------- table view and search

  function renderTable() {
    var body = byId("map-table-body");
    if (!body) return;
    state.tableDirty = false;
    var ids = Object.keys(state.wards).sort(function (a, b) {
      var x = state.wards[a], y = state.wards[b];
      var cx = (state.councils[x.council] || {}).name || x.council, cy = (state.councils[y.council] || {}).name || y.council;
      return cx < cy ? -1 : cx > cy ? 1 : x.name < y.name ? -1 : x.name > y.name ? 1 : 0;
    });
    var rows = document.createDocumentFragment();
    ids.forEach(function (id) {
      var entry = state.wards[id];
      var councilName = (state.councils[entry.council] || {}).name || state.councilNames[entry.council] || entry.council;
      rows.appendChild(el("tr", { "data-ward": id },
        el("td", { text: councilName }),
        el("th", { scope: "row" }, el("button", { type: "button", className: "linkish",
          onclick: function () { openWard(id, null, true); } }, entry.name + (entry.by ? " (by-election)" : ""))),
        el("td", { text: describe(id) }),
        el("td", { text: hasFigures(entry) ? winnersText(entry.winners) : "—" })));
    });
    clear(body).appendChild(rows);
    var count = byId("map-table-count");
    if (count) count.textContent = ids.length + " wards with elections";
  }

  function runSearch(query) {
    var out = byId("map-search-results");
    clear(out);
    query = query.trim().toLowerCase();
    if (query.length < 2) return;
    var found = [];
    Object.keys(state.councilNames).forEach(function (slug) {
      var name = state.councilNames[slug];
      if (name.toLowerCase().indexOf(query) !== -1) found.push({ label: name + " (council)", go: function () { showCouncil(slug, true); } });
    });
    Object.keys(state.wards).forEach(function (id) {
      var entry = state.wards[id];
      if (entry.name && entry.name.toLowerCase().indexOf(query) !== -1) {
        var council = (state.councils[entry.council] || {}).name || state.councilNames[entry.council] || entry.council;
        found.push({ label: entry.name + " (" + council + ")", go: function () { openWard(id, null, true); } });
      }
    });
    found.slice(0, 20).forEach(function (item) {
      out.appendChild(el("li", null, el("button", { type: "button", className: "linkish", onclick: item.go }, item.label)));
    });
    if (!found.length) out.appendChild(el("li", { text: "Nothing on this map matches." }));
    var status = byId("map-search-status");
    if (status) status.textContent = found.length + " found";
  }

  // ---------------------------------------------------------------- hash, start

  function setHash(value) {
    if (window.history && window.history.replaceState) window.history.replaceState(null, "", "#" + value);
  }

  function followHash() {
    var hash = window.location.hash.replace(/^#/, "");
    var match = /^(ward|council)=(.+)$/.exec(hash);
    if (!match) return;
    if (match[1] === "ward") openWard(decodeURIComponent(match[2]), null, false);
    else showCouncil(decodeURIComponent(match[2]), false);
  }

  var boot = null;

  function mark(name) {
    if (window.performance && performance.mark) performance.mark(name);
  }

  function prefetch() {
    var node = byId("map-config");
    if (!node) return;
    state.config = JSON.parse(node.textContent);
    boot = {
      boundaries: fetch(state.config.boundaries).then(function (r) {
        if (!r.ok) throw new Error("boundary layer " + r.status);
        return r.json();
      }),
      snapshot: fetch(state.config.snapshot).then(function (r) {
        if (!r.ok) return null;
        state.etag = r.headers.get("ETag");
        return r.json();
      }).catch(function () { return null; })
    };
  }

  function init(map) {
    if (!boot) return;
    state.map = map;
    state.renderer = new WardCanvas({ padding: 0.3 });
    state.tooltip = L.tooltip({ sticky: true, direction: "top", offset: [0, -6] });
    return Promise.all([boot.boundaries, boot.snapshot]).then(function (loaded) {
      var topology = loaded[0], doc = loaded[1];
      mark("results-map-data");
      if (doc) applySnapshot(doc);
      else setLive(state.live, "No results published for this day yet.");
      // The stream resumes from the snapshot's position, so nothing published since is missed.
      connectStream(doc && doc.stream);
      // The view is set before the wards are added, so they are projected once, not twice.
      if (topology.bbox) {
        map.fitBounds([[topology.bbox[1], topology.bbox[0]], [topology.bbox[3], topology.bbox[2]]], { animate: false });
      }
      drawBoundaries(topology);
      mark("results-map-drawn");
      refreshPanels();
      followHash();
      window.addEventListener("hashchange", followHash);
      return new Promise(function (resolve) {
        // Two frames: the canvas renderer draws on the next animation frame.
        requestAnimationFrame(function () {
          requestAnimationFrame(function () {
            mark("results-map-painted");
            document.documentElement.setAttribute("data-map-ready", "1");
            resolve();
          });
        });
      });
    }).catch(function (error) {
      var status = byId("map-live");
      if (status) status.textContent = "The map could not be loaded (" + error.message + "). The table of results is on the results page.";
      throw error;
    });
  }

  function wire() {
    var search = byId("map-search");
    if (search) search.addEventListener("input", function () { runSearch(search.value); });
    var form = byId("map-search-form");
    if (form) form.addEventListener("submit", function (event) {
      var first = byId("map-search-results").querySelector("button");
      if (first) { event.preventDefault(); first.click(); }
    });
    var details = byId("map-table-details");
    if (details) details.addEventListener("toggle", function () { if (details.open && state.tableDirty) renderTable(); });
  }

  prefetch();
  document.addEventListener("DOMContentLoaded", wire);

  window.ResultsMap = {
    init: function (map) { state.ready = init(map); return state.ready; },
    state: state,
    restyle: restyle,
    appearance: appearance,
    wardBounds: wardLatLngBounds,
    applySnapshot: applySnapshot,
    applyWardEvent: applyWardEvent,
    refresh: fetchSnapshot,
    openWard: openWard,
    showCouncil: showCouncil
  };
})();
