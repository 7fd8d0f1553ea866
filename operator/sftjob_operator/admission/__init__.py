"""Install-time admission policies: the apiserver enforces them for every SFTJob and every
trainer pod. hack/gen_crd.py writes them to crds/ and the chart; the operator refuses to
start without them (preflight.py). render/ is only for one job's children."""
