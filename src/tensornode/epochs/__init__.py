"""Epochs, in one place: clock arithmetic (:mod:`.clock`), the scheduler that freezes an
epoch's scores and settles it (:mod:`.scheduler`, :mod:`.service`, :mod:`.settle`), the
largest-remainder split into integer payouts (:mod:`.split`), hash-chained reports
(:mod:`.report`), and the public ``/epochs`` and ``/rewards`` API (:mod:`.reads`,
:mod:`.routes`, :mod:`.schemas`)."""
