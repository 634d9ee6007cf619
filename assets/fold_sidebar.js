// Phones and tablets: the sidebar starts folded on a touch screen narrower than a laptop's, once
// per browser tab, whichever page the tab opens on, so the page gets the whole width. Streamlit's
// own "auto" folds it only under 768 px, which leaves a tablet's canvas half hidden. Mounted from
// app.py, in the sidebar, on every page.
export default function () {
  const touchTablet = navigator.maxTouchPoints > 0 && window.innerWidth < 1280;
  if (!touchTablet || sessionStorage.getItem("digitlab.sidebarFolded")) return;
  sessionStorage.setItem("digitlab.sidebarFolded", "1");
  const sidebar = document.querySelector('[data-testid="stSidebar"]');
  if (sidebar && sidebar.dataset.collapsed === "false") {
    sidebar.querySelector('[data-testid="stSidebarCollapseButton"] button')?.click();
  }
}
