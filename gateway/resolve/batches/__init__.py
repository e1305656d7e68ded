"""Batches: the documents that return approved credits, grouped, rendered, tracked, delivered.

``issue.create_batches`` takes every approved case not yet in a batch and groups it by provider
× payer × document kind (refund transmittal or offset, from the method chosen at approval;
patient refunds per provider) × MSP flag (other-payer-primary overpayments never share a batch
with the rest, as MACs require). A layout's ``max_records`` splits a group (MACs: 20 ICNs per
check). Each batch gets its data file (the payer's layout, control totals), a PDF letter and a
manifest (every file's name, sha256, size and totals); the bytes are stored with the batch. The
cases move to refund_sent / offset_requested / patient_refund_issued in the same transaction,
and a partial unique index keeps a case in at most one non-cancelled batch: running it again
issues nothing twice. Invalid and partially valid payer refund requests become dispute batches
(``disputes``).

A group whose payer has no profile or layout is reported as an error and its cases stay
approved; the other groups are still issued. ``delivery.deliver_batch`` queues a batch's files
on the outbound SFTP queue of the payer's delivery partner (receipts are recorded there);
``views.get_batch`` reads the delivery state back from the queue.

- ``issue``: grouping approved cases and issuing their batches (``create_batches``).
- ``disputes``: dispute batches for invalid and partially valid payer refund requests.
- ``records``: what a batch writes (its row, its files sealed at rest, the manifest, its items)
  and its files' bytes read back (``batch_content``).
- ``views``: a batch as its read model, with its files' delivery state and receipts.
- ``delivery``: after issue: cancelling, queueing and delivering a batch.
"""
