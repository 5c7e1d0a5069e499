"""The command-centre console: its static files (static/: plain ES modules, no build step; the vendored ECharts and
Leaflet with their licences) and how they are mounted (routes.py: /console/). It imports no service: intake mounts
it and answers its /console/config.json (services/intake/routers/console_config.py); everything the pages read is
intake's and notify's public API."""
