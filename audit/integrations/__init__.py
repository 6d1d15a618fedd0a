"""Optional links to other tools (MLflow). Each one imports its third-party library inside its functions,
so the core install works without it; the library comes with its extra (``pip install 'audit[mlflow]'``).
"""
