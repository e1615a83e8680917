"""Suite manifests shipped with pytest-wamrobust (data, installed as pytest_wamrobust.suites)."""
