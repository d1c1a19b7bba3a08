"""bodywork-render: a bodywork.yaml pipeline rendered into Kubernetes objects, the GitOps way."""

__version__ = "0.1.0"
