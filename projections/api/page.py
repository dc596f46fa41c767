"""GET /: the front-office page, plain HTML and a little fetch(); data is put in with textContent
only, so nothing from an agency's records is ever parsed as HTML."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.purposes import PURPOSES

router = APIRouter()

PAGE = """<!doctype html>
<html lang="id">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MPP Hub - Front office</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 1.5rem; color: #222; max-width: 70rem; }
 h1 { font-size: 1.4rem; margin: 0 0 1rem; }
 fieldset { border: 1px solid #ccc; padding: .8rem; margin-bottom: 1rem; }
 label { margin-right: 1rem; }
 input, select, button { font-size: 1rem; padding: .25rem .4rem; }
 table { border-collapse: collapse; width: 100%; margin: .5rem 0 1.2rem; }
 th, td { border: 1px solid #ddd; padding: .3rem .5rem; text-align: left; vertical-align: top; }
 th { background: #f4f4f4; }
 .on_track { background: #d9f2d9; } .at_risk { background: #fff1c2; }
 .breached { background: #f8d0d0; }
 .muted { color: #777; font-size: .9em; } .error { color: #b00020; }
 a { cursor: pointer; color: #0645ad; text-decoration: underline; }
</style>
</head>
<body>
<h1>MPP Hub &mdash; layanan terpadu</h1>
<form id="search">
 <fieldset>
  <legend>Petugas: <span id="who"></span></legend>
  <label>Keperluan <select id="purpose" required>
   <!--PURPOSES-->
  </select></label>
  <label>Catatan <input id="note" size="30" maxlength="500" placeholder="no. tiket / surat"></label>
  <button type="button" id="logout">Keluar</button>
 </fieldset>
 <label>NIK, ID orang atau nama <input id="q" size="30" required></label>
 <button type="submit">Cari</button>
 <span class="muted">Setiap akses data pribadi dicatat (UU 27/2022).</span>
</form>
<div id="out"></div>
<script>
const out = document.getElementById("out");
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
let csrf = "";
function headers() {
  // The session cookie says who; the purpose says why (one of the fixed list); the CSRF token
  // proves a write comes from this page.
  return {
    "X-MPP-Purpose": document.getElementById("purpose").value,
    "X-MPP-Purpose-Note": document.getElementById("note").value,
    "X-CSRF-Token": csrf,
  };
}
fetch("/me").then(async r => {
  if (r.status === 401) { location.href = "/login"; return; }
  const me = await r.json();
  csrf = me.csrf_token || "";
  document.getElementById("who").textContent = me.username + " (" + me.role + ")";
});
document.getElementById("logout").onclick = () => {
  const f = document.createElement("form");
  f.method = "post"; f.action = "/logout";
  const t = document.createElement("input");
  t.type = "hidden"; t.name = "csrf_token"; t.value = csrf;
  f.appendChild(t); document.body.appendChild(f); f.submit();
};
async function get(path, payload) {
  // A NIK or a name goes in a POST body, never in a URL (access logs, history keep URLs).
  const init = payload === undefined ? { headers: headers() } : {
    method: "POST", body: JSON.stringify(payload),
    headers: { ...headers(), "Content-Type": "application/json" } };
  const r = await fetch(path, init);
  const body = await r.json();
  if (!r.ok) throw new Error(typeof body.detail === "string" ? body.detail : r.statusText);
  return body;
}
function table(columns, rows, rowClass) {
  const t = el("table"), head = el("tr");
  columns.forEach(([, title]) => head.appendChild(el("th", title)));
  t.appendChild(head);
  rows.forEach(row => {
    const tr = el("tr", null, rowClass ? rowClass(row) : "");
    columns.forEach(([key]) => {
      const v = typeof key === "function" ? key(row) : row[key];
      const td = el("td");
      if (v instanceof Node) td.appendChild(v); else td.textContent = v ?? "";
      tr.appendChild(td);
    });
    t.appendChild(tr);
  });
  return t;
}
function showError(e) { out.replaceChildren(el("p", e.message, "error")); }
async function openCitizen(key) {
  try {
    const c = /^[0-9]{16}$/.test(key) ? await get("/citizens/lookup", { nik: key })
                                       : await get("/citizens/" + encodeURIComponent(key));
    const fields = ["nik", "nik_status", "name", "sex", "birth_date", "birth_place", "address",
      "kecamatan_code", "kelurahan_code", "religion", "marital_status", "occupation",
      "kk_number", "deceased", "death_date"];
    const rows = fields.map(f => ({ field: f, value: c[f],
      source: c.provenance[f] ? c.provenance[f].agency + " / " + c.provenance[f].table : "" }));
    out.replaceChildren(
      el("h2", c.name || "(tanpa nama)"),
      el("p", (c.alias ? "ID " + c.alias + " sudah digabung ke " + c.person_id + ". " : "")
              + (c.masked ? "NIK disamarkan untuk role ini." : ""), "muted"),
      table([["field", "Data"], ["value", "Nilai"], ["source", "Sumber"]], rows),
      el("h3", "Izin / permohonan"),
      table([["permit_id", "Permohonan"], ["service_name", "Layanan"], ["status", "Status"],
             ["received_date", "Diterima"], ["file_complete_date", "Berkas lengkap"],
             ["working_days_used", "Hari kerja"], ["sla_days", "SLA"], ["sla_state", "SLA status"],
             ["due_date", "Batas"], [p => link(p.permit_id, () => openPermit(p.permit_id)), ""]],
            c.permits, p => p.sla_state || ""),
      el("h3", "Data per instansi"),
      table([["agency", "Instansi"], ["source_table", "Tabel"], ["source_record_id", "ID"],
             ["nik_status", "Status NIK"], [s => JSON.stringify(s.data), "Data"]], c.sources));
  } catch (e) { showError(e); }
}
async function openPermit(id) {
  try {
    const p = await get("/permits/" + encodeURIComponent(id));
    out.replaceChildren(
      el("h2", (p.service_name || p.service_code || "") + " - " + p.permit_id),
      el("p", "Status " + p.status + ", " + (p.working_days_used ?? "-") + " hari kerja dari SLA "
              + (p.sla_days ?? "-") + " (" + (p.sla_state || "-") + ")", p.sla_state || ""),
      table([["status_seq", "#"], ["status", "Status"], ["status_time", "Waktu"],
             ["note", "Catatan"]], p.timeline));
  } catch (e) { showError(e); }
}
function link(text, onclick) { const a = el("a", text); a.onclick = onclick; return a; }
document.getElementById("search").addEventListener("submit", async ev => {
  ev.preventDefault();
  const q = document.getElementById("q").value.trim();
  if (/^([0-9]{16}|P[0-9A-Z]{26})$/.test(q)) return openCitizen(q);
  try {
    const r = await get("/citizens/search", { name: q });
    out.replaceChildren(el("h2", r.results.length + " hasil"),
      table([[c => link(c.name, () => openCitizen(c.person_id)), "Nama"], ["nik", "NIK"],
             ["birth_place", "Tempat lahir"], ["birth_date", "Tanggal lahir"],
             ["kecamatan_code", "Kecamatan"]], r.results));
  } catch (e) { showError(e); }
});
</script>
</body>
</html>
"""


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def page(request: Request) -> Response:
    """The front-office page; without a session, the login form."""
    if request.app.state.auth.session_csrf(request) is None:
        return RedirectResponse("/login", status_code=303)
    return HTMLResponse(PAGE.replace("<!--PURPOSES-->", _PURPOSE_OPTIONS))


_PURPOSE_OPTIONS = "\n   ".join(
    f'<option value="{escape(p.code)}">{escape(p.label)}</option>' for p in PURPOSES.values()
)
