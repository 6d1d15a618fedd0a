"""audit: compliance audit reports for machine-learning decision systems.

The flow (DESIGN.md): spec -> Subject -> checks -> Evidence -> policies ->
Findings -> AuditResult (audit.json) -> report -> signed bundle. Import the
submodules you need; nothing heavy is imported here.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
