import "./locale";
import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";

// WebKitGTK (the webview on Linux) gets scrollbars of the app's own (app.css says why).
if (/Linux/.test(navigator.userAgent) && !/Android/.test(navigator.userAgent)) document.documentElement.classList.add("webkitgtk");

const target = document.getElementById("app");
if (!target) throw new Error("#app missing from index.html");
export default mount(App, { target });
