using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using ZmqAspire.Tunneling;

namespace ZmqAspire.TunnelCli;

/// <summary>
/// <c>--health-port</c>: a JSON health report on <c>http://127.0.0.1:PORT/</c> (any path), 200
/// while the session is up, 503 while it is logging in again. A bare HTTP/1.0 responder on
/// loopback rather than ASP.NET Core: one read-only document does not justify a web host in a
/// command-line tool.
/// </summary>
public sealed class HealthEndpoint : IDisposable
{
    private readonly TcpListener _listener;
    private readonly SelfHealingForward _forward;
    private readonly TunnelSettings _settings;
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;

    private HealthEndpoint(TcpListener listener, SelfHealingForward forward, TunnelSettings settings)
    {
        _listener = listener;
        _forward = forward;
        _settings = settings;
        Port = ((IPEndPoint)listener.LocalEndpoint).Port;
        _ = AcceptLoopAsync();
    }

    /// <summary>Gets the port the report is served on.</summary>
    public int Port { get; }

    /// <summary>Starts serving on 127.0.0.1.</summary>
    /// <exception cref="SocketException">The port cannot be opened.</exception>
    public static HealthEndpoint Start(int port, SelfHealingForward forward, TunnelSettings settings)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        return new HealthEndpoint(listener, forward, settings);
    }

    /// <summary>Builds the report: up or not, the session count, the forwards.</summary>
    public JsonObject Report()
    {
        var forwards = new JsonArray();
        for (var i = 0; i < _forward.LocalEndpoints.Count; i++)
        {
            forwards.Add(new JsonObject { ["local"] = _forward.LocalEndpoints[i].ToString(), ["remote"] = _forward.Remotes[i].ToString() });
        }

        return new JsonObject
        {
            ["status"] = _forward.IsUp ? "up" : "reconnecting",
            ["server"] = _settings.Server.ToString(),
            ["hostKey"] = _forward.Session?.HostKeyFingerprint,
            ["sessions"] = _forward.SessionCount,
            ["uptimeSeconds"] = Math.Round((DateTimeOffset.UtcNow - _started).TotalSeconds, 1),
            ["forwards"] = forwards,
        };
    }

    /// <inheritdoc/>
    public void Dispose() => _listener.Stop();

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync().ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is ObjectDisposedException or SocketException)
            {
                return;
            }

            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                // Read the request head; its content does not matter (every path gets the report).
                var buffer = new byte[4096];
                var head = new StringBuilder();
                while (!head.ToString().Contains("\r\n\r\n", StringComparison.Ordinal))
                {
                    var read = await stream.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return;
                    }

                    head.Append(Encoding.ASCII.GetString(buffer, 0, read));
                }

                var body = Encoding.UTF8.GetBytes(Report().ToJsonString() + "\n");
                var status = _forward.IsUp ? "200 OK" : "503 Service Unavailable";
                var header = Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture,
                    $"HTTP/1.0 {status}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n"));
                await stream.WriteAsync(header, timeout.Token).ConfigureAwait(false);
                await stream.WriteAsync(body, timeout.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException)
            {
                // The client went away: nothing to report to.
            }
        }
    }
}
