"""The command-centre console: its static files (static/: plain ES modules, no build step; the vendored ECharts and
Leaflet with their licences) and the routes that serve them (routes.py: /console/ and /console/config.json).
Intake mounts it (services/intake/main.py); everything the pages read is intake's and notify's public API."""
