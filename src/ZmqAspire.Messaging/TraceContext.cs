using System.Diagnostics;

namespace ZmqAspire.Messaging;

/// <summary>
/// Carries W3C Trace Context (traceparent, tracestate) and W3C Baggage in an
/// <see cref="EnvelopeHeader"/>, through .NET's <see cref="DistributedContextPropagator"/>:
/// the formatting and parsing are the runtime's, not this library's.
/// </summary>
internal static class TraceContext
{
    // The W3C propagator explicitly, rather than DistributedContextPropagator.Current, which an
    // application may have set to another format (or to none) for its HTTP traffic.
    private static readonly DistributedContextPropagator Propagator = DistributedContextPropagator.CreateW3CPropagator();

    /// <summary>Writes <paramref name="activity"/>'s context into the header.</summary>
    public static void Inject(Activity? activity, EnvelopeHeader header)
    {
        if (activity is null)
        {
            return;
        }

        Propagator.Inject(activity, header, static (carrier, key, value) =>
        {
            if (carrier is EnvelopeHeader h && !string.IsNullOrEmpty(value))
            {
                h.Set(key, value);
            }
        });
    }

    /// <summary>Reads the remote parent's context from the header.</summary>
    /// <returns><see langword="false"/> when the header carries no valid traceparent.</returns>
    public static bool TryExtract(EnvelopeHeader header, out ActivityContext parent, out IEnumerable<KeyValuePair<string, string?>>? baggage)
    {
        Propagator.ExtractTraceIdAndState(header, Getter, out var traceParent, out var traceState);
        baggage = Propagator.ExtractBaggage(header, Getter);
        return ActivityContext.TryParse(traceParent, traceState, isRemote: true, out parent);
    }

    private static void Getter(object? carrier, string name, out string? value, out IEnumerable<string>? values)
    {
        values = null;
        value = (carrier as EnvelopeHeader)?[name];
    }
}
