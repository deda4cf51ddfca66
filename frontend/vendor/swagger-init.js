// Starts Swagger UI on /schema: a file of its own, because the Content-Security-Policy
// allows no inline scripts.
window.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({
    url: "/schema/openapi.json",
    dom_id: "#swagger-container",
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    presets: [window.SwaggerUIBundle.presets.apis, window.SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
