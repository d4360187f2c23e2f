"""Layer 5: applications -- stochastic gradient descent as an SDE.

``sgd`` (the SDE from a loss), ``momentum`` (the heavy-ball phase-space SDE), ``data``
(the SDE from per-example gradients and a data set), ``minibatch`` (real minibatch SGD),
``quadratic`` (exact references near a quadratic minimum) and ``inputs`` (shared checks).

Private: the public names are re-exported by ``fokkerplanck``; see docs/architecture.md.
"""
