using Microsoft.Extensions.Options;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Client;

/// <summary>
/// How the client reaches the server, bound from the <c>Tunnel</c> configuration section
/// (environment: <c>Tunnel__SshServer</c>, <c>Tunnel__HostKeyFingerprint</c>, ...). The AppHost
/// sets all of it; secrets (passphrase, password) come from configuration, never from a prompt.
/// </summary>
public sealed class TunnelSettings
{
    /// <summary>The configuration section name.</summary>
    public const string Section = "Tunnel";

    /// <summary>Gets or sets the bastion, <c>user@host[:port]</c>.</summary>
    public string SshServer { get; set; } = string.Empty;

    /// <summary>
    /// Gets or sets the server's endpoint as the bastion sees it, <c>tcp://host:port</c>; for
    /// several server replicas, one endpoint per replica, comma-separated. The client opens one
    /// local forward per endpoint over its one SSH session and spreads requests over them
    /// (docs/patterns.md, "Scale-out").
    /// </summary>
    public string RemoteEndpoint { get; set; } = string.Empty;

    /// <summary>Gets or sets the bastion's pinned host key fingerprint(s), <c>SHA256:...</c>, comma-separated.</summary>
    public string? HostKeyFingerprint { get; set; }

    /// <summary>Gets or sets an OpenSSH known_hosts file to check the bastion's host key against, instead of a pin.</summary>
    public string? KnownHostsPath { get; set; }

    /// <summary>Gets or sets the private key file (OpenSSH format).</summary>
    public string? PrivateKeyPath { get; set; }

    /// <summary>Gets or sets the private key's passphrase, if it is encrypted.</summary>
    public string? PrivateKeyPassphrase { get; set; }

    /// <summary>Gets or sets a password, for password login (opt-in).</summary>
    public string? Password { get; set; }

    /// <summary>Gets or sets the time allowed to connect and log in to the bastion. Default: 10 seconds.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets how often the bastion must answer a keep-alive probe (OpenSSH's
    /// <c>ServerAliveInterval</c>; <see cref="SshTunnelOptions.ServerAliveInterval"/>); zero turns it off. Default: 1 second.
    /// </summary>
    public TimeSpan ServerAliveInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Gets or sets how many intervals a probe may go unanswered before the session is dropped and
    /// the health check says Unhealthy (OpenSSH's <c>ServerAliveCountMax</c>). Default: 3.
    /// </summary>
    public int ServerAliveCountMax { get; set; } = 3;

    /// <summary>Gets or sets the first wait before logging in again after the bastion could not be reached. Default: 0.5 seconds.</summary>
    public TimeSpan ReconnectDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Gets or sets the longest wait between login attempts (exponential backoff with jitter). Default: 5 seconds.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Builds the self-healing forward's reconnect timings.</summary>
    /// <returns>The options.</returns>
    public SelfHealingForwardOptions ToHealingOptions() => new() { ReconnectDelay = ReconnectDelay, MaxReconnectDelay = MaxReconnectDelay };

    /// <summary>Builds the tunnel library's options.</summary>
    /// <returns>The options.</returns>
    /// <exception cref="FormatException">A value is malformed.</exception>
    /// <exception cref="ArgumentException">No host key check is configured.</exception>
    public SshTunnelOptions ToSshTunnelOptions() => new()
    {
        Server = SshServerAddress.Parse(SshServer),
        HostKey = !string.IsNullOrWhiteSpace(HostKeyFingerprint)
            ? HostKeyPolicy.Pinned(HostKeyFingerprint.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            : !string.IsNullOrWhiteSpace(KnownHostsPath)
                ? HostKeyPolicy.KnownHosts(KnownHostsPath)
                : throw new ArgumentException("Set Tunnel:HostKeyFingerprint or Tunnel:KnownHostsPath: the bastion's host key must be checked."),
        PrivateKeyPath = PrivateKeyPath,
        PrivateKeyPassphrase = PrivateKeyPassphrase,
        Password = Password,
        ConnectTimeout = ConnectTimeout,
        ServerAliveInterval = ServerAliveInterval,
        ServerAliveCountMax = ServerAliveCountMax,
    };

    /// <summary>Parses <see cref="RemoteEndpoint"/>: one endpoint per server replica, in the order given.</summary>
    /// <returns>The endpoints; at least one.</returns>
    /// <exception cref="FormatException">An endpoint is not a target <c>tcp://host:port</c> (no <c>*</c>, a port
    /// from 1 to 65535: <see cref="TcpEndpoint.ParseTarget"/>), or none is given.</exception>
    public IReadOnlyList<TcpEndpoint> ParseRemoteEndpoints()
    {
        var endpoints = RemoteEndpoint.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return endpoints.Length > 0
            ? [.. endpoints.Select(TcpEndpoint.ParseTarget)]
            : throw new FormatException("Tunnel:RemoteEndpoint is empty: give tcp://host:port (comma-separated for several server replicas).");
    }

    /// <summary>Checks the settings at start-up, so a typo stops the client at once with a clear message.</summary>
    public sealed class Validator : IValidateOptions<TunnelSettings>
    {
        /// <inheritdoc />
        public ValidateOptionsResult Validate(string? name, TunnelSettings options)
        {
            var errors = new List<string>();
            try
            {
                // What the SSH server cannot change, checked now rather than at the first login:
                // the credential (a key that loads, a password, or a usable default key) and a
                // known_hosts file that reads.
                options.ToSshTunnelOptions().CheckBeforeConnecting();
            }
            catch (SshPrivateKeyException ex)
            {
                errors.Add($"Tunnel:PrivateKeyPath / Tunnel:PrivateKeyPassphrase: {ex.Message}");
            }
            catch (SshTunnelConfigurationException ex)
            {
                errors.Add(ex.Setting switch
                {
                    nameof(SshTunnelOptions.PrivateKeyPath) => $"Set Tunnel:PrivateKeyPath or Tunnel:Password: {ex.Message}",
                    nameof(SshTunnelOptions.HostKey) => $"Tunnel:KnownHostsPath: {ex.Message}",
                    _ => ex.Message,
                });
            }
            catch (ArgumentException ex) when (ex.ParamName is nameof(SshTunnelOptions.ConnectTimeout) or nameof(SshTunnelOptions.ServerAliveInterval) or nameof(SshTunnelOptions.ServerAliveCountMax))
            {
                errors.Add($"Tunnel:{ex.ParamName}: {ex.Message}");
            }
            catch (Exception ex) when (ex is FormatException or ArgumentException)
            {
                errors.Add(ex.Message);
            }

            try
            {
                options.ToHealingOptions().Validate();
            }
            catch (ArgumentException ex)
            {
                errors.Add($"Tunnel:ReconnectDelay / Tunnel:MaxReconnectDelay: {ex.Message}");
            }

            try
            {
                _ = options.ParseRemoteEndpoints();
            }
            catch (FormatException ex)
            {
                errors.Add($"Tunnel:RemoteEndpoint: {ex.Message}");
            }

            return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
        }
    }
}
