using System.Diagnostics.CodeAnalysis;

namespace ZmqAspire.Tunneling;

/// <summary>
/// A ZeroMQ TCP endpoint, <c>tcp://host:port</c> (ZMTP over TCP, RFC 23), with an IPv6 host in
/// brackets. The parsing rule is ssh's (<c>ssh -L</c>/<c>-R</c>), the same for every API of this
/// library that takes an endpoint:
/// <list type="bullet">
/// <item>a <b>target</b> (where a connection goes: a local forward's remote end, a remote forward's
/// target, <c>ConnectThroughTunnel</c>) is one host and a port from 1 to 65535;</item>
/// <item>where an SSH server <b>listens</b> (<see cref="SshTunnelSession.OpenRemoteForward"/>'s
/// <c>listen</c>) may also be the wildcard host <c>*</c> (any address) and the port 0 (the server
/// picks one), as in <c>ssh -R *:0:host:port</c>.</item>
/// </list>
/// <see cref="Parse"/> and the constructor accept both (check <see cref="IsWildcard"/>);
/// <see cref="ParseTarget"/> accepts targets only.
/// </summary>
public sealed record TcpEndpoint
{
    /// <summary>The host meaning "any address" where an SSH server listens.</summary>
    public const string AnyHost = HostPort.AnyHost;

    /// <summary>The port meaning "any free port" where an SSH server listens.</summary>
    public const int AnyPort = HostPort.AnyPort;

    private const string Scheme = "tcp://";

    /// <summary>Creates an endpoint from its parts, checked as <see cref="Parse"/> checks text.</summary>
    /// <param name="host">The host name or IP address (IPv6 without brackets), or <see cref="AnyHost"/>.</param>
    /// <param name="port">The TCP port, 0-65535 (0: <see cref="AnyPort"/>).</param>
    /// <exception cref="ArgumentException"><paramref name="host"/> is empty, has white space, brackets, '/', '@', or a '*' that is not the whole host.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="port"/> is outside 0-65535.</exception>
    public TcpEndpoint(string host, int port)
    {
        Host = HostPort.HostError(host) is { } hostError ? throw new ArgumentException($"Invalid host: {hostError}.", nameof(host)) : host;
        Port = HostPort.PortError(port) is { } portError ? throw new ArgumentOutOfRangeException(nameof(port), port, portError) : port;
    }

    /// <summary>Gets the host name or IP address, as resolved where the endpoint is used; <c>*</c> for any address.</summary>
    public string Host { get; }

    /// <summary>Gets the TCP port, 0-65535; 0 for any port.</summary>
    public int Port { get; }

    /// <summary>
    /// Gets a value indicating whether the host is <c>*</c> or the port is 0: valid only where an
    /// SSH server listens, never as a target.
    /// </summary>
    public bool IsWildcard => HostPort.WildcardError(Host, Port) is not null;

    /// <summary>
    /// Parses <c>tcp://host:port</c>, a target or where an SSH server listens (<c>*</c> and port 0 accepted).
    /// </summary>
    /// <param name="value">The endpoint to parse.</param>
    /// <returns>The parsed endpoint.</returns>
    /// <exception cref="FormatException">The value is not <c>tcp://host:port</c> with a port from 0 to 65535;
    /// the message quotes the value and says what is wrong.</exception>
    public static TcpEndpoint Parse(string value) =>
        TryParse(value, target: false, out var endpoint, out var error) ? endpoint : throw Invalid(value, error);

    /// <summary>
    /// Parses a target, <c>tcp://host:port</c> that a connection can go to: one host (not <c>*</c>)
    /// and a port from 1 to 65535.
    /// </summary>
    /// <param name="value">The endpoint to parse.</param>
    /// <returns>The parsed endpoint.</returns>
    /// <exception cref="FormatException">The value is not <c>tcp://host:port</c>, or is a wildcard;
    /// the message quotes the value and says what is wrong.</exception>
    public static TcpEndpoint ParseTarget(string value) =>
        TryParse(value, target: true, out var endpoint, out var error) ? endpoint : throw Invalid(value, error);

    /// <summary>Parses <c>tcp://host:port</c> as <see cref="Parse"/> does, without throwing.</summary>
    /// <param name="value">The endpoint to parse.</param>
    /// <param name="endpoint">The parsed endpoint, when the result is <see langword="true"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="value"/> is well formed.</returns>
    public static bool TryParse(string? value, [NotNullWhen(true)] out TcpEndpoint? endpoint) =>
        TryParse(value, target: false, out endpoint, out _);

    /// <summary>Deconstructs the endpoint into its host and port.</summary>
    /// <param name="host">The host.</param>
    /// <param name="port">The port.</param>
    public void Deconstruct(out string host, out int port) => (host, port) = (Host, Port);

    /// <summary>Formats the endpoint as <c>tcp://host:port</c>, which <see cref="Parse"/> reads back.</summary>
    /// <returns>The endpoint in the form NetMQ's <c>Connect</c> takes.</returns>
    public override string ToString() => Scheme + HostPort.Format(Host, Port);

    /// <summary>Throws unless the endpoint is a target; for the APIs that take a <see cref="TcpEndpoint"/> to connect to.</summary>
    internal static void RequireTarget(TcpEndpoint endpoint, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(endpoint, parameterName);
        if (HostPort.WildcardError(endpoint.Host, endpoint.Port) is { } error)
        {
            throw new ArgumentException($"'{endpoint}' cannot be a target: {error}.", parameterName);
        }
    }

    private static FormatException Invalid(string? value, string error) =>
        new($"Invalid ZeroMQ endpoint '{value}': {error}. Expected tcp://host:port.");

    private static bool TryParse(string? value, bool target, [NotNullWhen(true)] out TcpEndpoint? endpoint, out string error)
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

        if (target && HostPort.WildcardError(host, port) is { } wildcard)
        {
            error = wildcard;
            return false;
        }

        endpoint = new TcpEndpoint(host, port);
        return true;
    }
}
