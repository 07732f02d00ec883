"""The YAML files shipped with gcs_hpc, installed as the package ``gcs_hpc.configs`` (see pyproject.toml)."""
