// The console's only script of its own (the CSP allows no inline script):
// a side panel opened by htmx takes the focus, and Escape closes it and
// gives the focus back to what opened it.
let opener = null;
document.addEventListener("htmx:beforeRequest", (event) => {
  if (event.detail.target && event.detail.target.id === "panel") {
    opener = document.activeElement;
  }
});
document.addEventListener("htmx:afterSwap", (event) => {
  if (event.detail.target && event.detail.target.id === "panel") {
    const heading = event.detail.target.querySelector("h2");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }
});
document.addEventListener("keydown", (event) => {
  const panel = document.getElementById("panel");
  if (event.key === "Escape" && panel && panel.firstElementChild) {
    panel.replaceChildren();
    if (opener && document.contains(opener)) {
      opener.focus();
    }
  }
});
