using System.Diagnostics.CodeAnalysis;

namespace ZmqAspire.Tunneling;

/// <summary>
/// A ZeroMQ TCP endpoint, <c>tcp://host:port</c> (ZMTP over TCP, RFC 23), as the socket that
/// connects would write it. A wildcard host (<c>*</c>) is for binding only and is refused here.
/// </summary>
/// <param name="Host">The host name or IP address, as resolved where the endpoint is used.</param>
/// <param name="Port">The TCP port, 1-65535.</param>
public sealed record TcpEndpoint(string Host, int Port)
{
    private const string Scheme = "tcp://";

    /// <summary>Parses <c>tcp://host:port</c> (IPv6 in brackets).</summary>
    /// <param name="value">The endpoint to parse.</param>
    /// <returns>The parsed endpoint.</returns>
    /// <exception cref="FormatException">The value is not <c>tcp://host:port</c> with a port from 1 to 65535;
    /// the message quotes the value.</exception>
    public static TcpEndpoint Parse(string value) =>
        TryParse(value, out var endpoint, out var error)
            ? endpoint
            : throw new FormatException($"Invalid ZeroMQ endpoint '{value}': {error}. Expected tcp://host:port.");

    /// <summary>Parses <c>tcp://host:port</c> without throwing.</summary>
    /// <param name="value">The endpoint to parse.</param>
    /// <param name="endpoint">The parsed endpoint, when the result is <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="value"/> is well formed.</returns>
    public static bool TryParse(string? value, [NotNullWhen(true)] out TcpEndpoint? endpoint) =>
        TryParse(value, out endpoint, out _);

    private static bool TryParse(string? value, [NotNullWhen(true)] out TcpEndpoint? endpoint, out string error)
    {
        endpoint = null;
        if (value is null || !value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            error = "only the tcp:// transport can be tunnelled over SSH";
            return false;
        }

        if (!HostPort.TryParse(value[Scheme.Length..], defaultPort: null, out var host, out var port, out error))
        {
            return false;
        }

        if (host == "*")
        {
            error = "'*' is a bind address; a tunnel connects to one host";
            return false;
        }

        endpoint = new TcpEndpoint(host, port);
        return true;
    }

    /// <summary>Formats the endpoint as <c>tcp://host:port</c>.</summary>
    /// <returns>The endpoint in the form NetMQ's <c>Connect</c> takes.</returns>
    public override string ToString() => Scheme + HostPort.Format(Host, Port);
}
