using System.Diagnostics;

namespace ZmqAspire.Client;

/// <summary>The client's ActivitySource; its name matches the ServiceDefaults' <c>ZmqAspire.*</c> registration.</summary>
public static class ClientTelemetry
{
    /// <summary>The ActivitySource name.</summary>
    public const string SourceName = "ZmqAspire.Client";

    /// <summary>The ActivitySource for request spans.</summary>
    public static readonly ActivitySource Source = new(SourceName);
}
