"""The run report: challenger beside champion, the promotion decision, plots and explained
alerts, as one self-contained HTML page (reports/index.html, also an MLflow artifact)."""
