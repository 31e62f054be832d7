using System.Diagnostics;

namespace ZmqAspire.Server;

/// <summary>The server's ActivitySource; its name matches the ServiceDefaults' <c>ZmqAspire.*</c> registration.</summary>
public static class ServerTelemetry
{
    /// <summary>The ActivitySource name.</summary>
    public const string SourceName = "ZmqAspire.Server";

    /// <summary>The ActivitySource for request spans.</summary>
    public static readonly ActivitySource Source = new(SourceName);
}
