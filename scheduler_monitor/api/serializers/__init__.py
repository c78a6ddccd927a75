"""The API's serializers, by subject; the views use them as ``serializers.<Name>``."""

from scheduler_monitor.api.serializers.envelopes import (  # noqa: F401
    BATCH_DATA,
    ERROR,
    ERROR_DESCRIPTIONS,
    JOB_STATE,
    RUN_PAGE,
    TRIGGERED,
    enveloped,
    errors,
    listing,
)
from scheduler_monitor.api.serializers.fields import (  # noqa: F401
    MAX_BATCH_SIZE,
    MAX_HEATMAP_HOURS,
    MAX_PAGE,
    NO_NUL,
    TEXT_PARAM_SCHEMA,
    BlankAsNullCharField,
    StrictBooleanField,
    StrictCharField,
    TextParamField,
    UtcDateTimeField,
    UtcModelSerializer,
    query_parameters,
)
from scheduler_monitor.api.serializers.inputs import (  # noqa: F401
    BatchBodySerializer,
    HeatmapQuerySerializer,
    JobListQuerySerializer,
    RunListQuerySerializer,
    TriggerBodySerializer,
    TriggerQuerySerializer,
)
from scheduler_monitor.api.serializers.jobs import (  # noqa: F401
    BatchResultSerializer,
    JobDetailSerializer,
    JobSerializer,
    MetricSerializer,
    RunSerializer,
    ServiceJobSerializer,
    ServiceSerializer,
    StartDelaySerializer,
    StatsSerializer,
    StuckRunSerializer,
    TriggerRequestSerializer,
)
from scheduler_monitor.api.serializers.overview import (  # noqa: F401
    AlertSerializer,
    AlertsSerializer,
    HeatmapJobSerializer,
    HeatmapRowSerializer,
    HeatmapSerializer,
    InstanceRoleSerializer,
    InstanceSerializer,
    StatusSerializer,
    SummarySerializer,
)
