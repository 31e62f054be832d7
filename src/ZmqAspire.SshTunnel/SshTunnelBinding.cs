using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace ZmqAspire.Tunneling;

/// <summary>
/// Binds one tunnel's <see cref="SshTunnelSettings"/> in Aspire's order (shared section, named
/// section, connection string, callback) and remembers where each value came from, so that a
/// validation error names the configuration key to fix. Binding errors are kept, not thrown:
/// <see cref="Validate"/> reports them with the rest when the host starts.
/// </summary>
internal sealed class SshTunnelBinding
{
    private const string Callback = "the configure callback";

    /// <summary>Where the hosting package's <c>WithSshTunnel</c> puts a container consumer's key (<c>SshTunnelBuilderExtensions.ContainerKeyDirectory</c>).</summary>
    private const string AppHostKeyDirectory = "/run/aspire-ssh/";

    // The values whose origin an error message names; timings can come from sections and the callback only.
    private static readonly (string Key, Func<SshTunnelSettings, object?> Get)[] Tracked =
    [
        (nameof(SshTunnelSettings.SshServer), s => s.SshServer),
        (nameof(SshTunnelSettings.HostKeyFingerprint), s => s.HostKeyFingerprint),
        (nameof(SshTunnelSettings.KnownHostsPath), s => s.KnownHostsPath),
        (nameof(SshTunnelSettings.RemoteEndpoint), s => s.RemoteEndpoint),
        (nameof(SshTunnelSettings.PrivateKeyPath), s => s.PrivateKeyPath),
        (nameof(SshTunnelSettings.PrivateKeyPassphrase), s => s.PrivateKeyPassphrase),
        (nameof(SshTunnelSettings.Password), s => s.Password),
        (nameof(SshTunnelSettings.ConnectTimeout), s => s.ConnectTimeout),
        (nameof(SshTunnelSettings.ReconnectDelay), s => s.ReconnectDelay),
        (nameof(SshTunnelSettings.MaxReconnectDelay), s => s.MaxReconnectDelay),
        (nameof(SshTunnelSettings.ServerAliveInterval), s => s.ServerAliveInterval),
        (nameof(SshTunnelSettings.ServerAliveCountMax), s => s.ServerAliveCountMax),
        (nameof(SshTunnelSettings.ChannelWindowSize), s => s.ChannelWindowSize),
    ];

    private readonly Dictionary<string, string> _sources = new(StringComparer.Ordinal);
    private readonly List<string> _errors = [];
    private bool _hasConnectionString;

    private SshTunnelBinding(string name)
    {
        Name = name;
        ConnectionStringKey = $"ConnectionStrings:{name}";
    }

    /// <summary>Gets the connection name.</summary>
    public string Name { get; }

    /// <summary>Gets the configuration key of the connection string, <c>ConnectionStrings:{name}</c>.</summary>
    public string ConnectionStringKey { get; }

    /// <summary>Gets the bound settings (the callback has run).</summary>
    public SshTunnelSettings Settings { get; } = new();

    /// <summary>Binds the settings of the tunnel <paramref name="name"/>.</summary>
    /// <param name="configuration">The application's configuration.</param>
    /// <param name="name">The connection name.</param>
    /// <param name="configure">Runs last, on the bound settings.</param>
    /// <returns>The binding; errors wait for <see cref="Validate"/>.</returns>
    public static SshTunnelBinding Bind(IConfiguration configuration, string name, Action<SshTunnelSettings>? configure)
    {
        var binding = new SshTunnelBinding(name);
        var shared = configuration.GetSection(SshTunnelSettings.DefaultConfigSectionName);
        binding.BindSection(shared);
        binding.BindSection(shared.GetSection(name));
        if (configuration.GetConnectionString(name) is { } connectionString)
        {
            binding.ApplyConnectionString(connectionString);
        }

        if (configure is not null)
        {
            var before = Tracked.Select(t => t.Get(binding.Settings)).ToArray();
            configure(binding.Settings);
            for (var i = 0; i < Tracked.Length; i++)
            {
                if (!Equals(before[i], Tracked[i].Get(binding.Settings)))
                {
                    binding._sources[Tracked[i].Key] = Callback;
                }
            }
        }

        return binding;
    }

    /// <summary>
    /// Checks every setting and builds what the self-healing forward takes. Reads the key file
    /// and the known_hosts file (not the network), so a missing file stops the host at start.
    /// </summary>
    /// <returns>The checked tunnel.</returns>
    /// <exception cref="OptionsValidationException">A setting is missing or wrong; one failure per
    /// problem, each starting with the configuration key to fix (for example
    /// <c>ConnectionStrings:server: SshServer is missing</c>). Secrets are never quoted.</exception>
    public SshTunnelPlan Validate()
    {
        var errors = new List<string>(_errors);
        var s = Settings;
        if (!_hasConnectionString && s.SshServer is null && s.RemoteEndpoint is null)
        {
            // Nothing configured at all: one message that says where the tunnel comes from, not one per key.
            errors.Add($"{ConnectionStringKey} is not set: AddSshTunnel(\"{Name}\") reads the bastion, its host key, the remote endpoint(s) and the credential from it (the AppHost sets it with WithReference)");
            throw new OptionsValidationException(Name, typeof(SshTunnelSettings), errors);
        }

        SshServerAddress? server = null;
        if (string.IsNullOrWhiteSpace(s.SshServer))
        {
            errors.Add($"{ConnectionStringKey}: SshServer is missing: give the bastion as user@host[:port]");
        }
        else
        {
            try
            {
                server = SshServerAddress.Parse(s.SshServer);
            }
            catch (FormatException ex)
            {
                errors.Add($"{Where(nameof(s.SshServer))}: SshServer: {ex.Message}");
            }
        }

        HostKeyPolicy? hostKey = null;
        try
        {
            hostKey = !string.IsNullOrWhiteSpace(s.HostKeyFingerprint)
                ? HostKeyPolicy.Pinned(s.HostKeyFingerprint.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                : !string.IsNullOrWhiteSpace(s.KnownHostsPath)
                    ? HostKeyPolicy.KnownHosts(s.KnownHostsPath)
                    : null;
            if (hostKey is null)
            {
                errors.Add($"{ConnectionStringKey}: HostKeyFingerprint is missing (or KnownHostsPath): the bastion's host key must be checked, an unknown key is never accepted");
            }
        }
        catch (ArgumentException ex)
        {
            errors.Add($"{Where(nameof(s.HostKeyFingerprint))}: HostKeyFingerprint: {ex.Message}");
        }

        var remotes = ParseRemotes(errors);
        var healing = new SelfHealingForwardOptions { ReconnectDelay = s.ReconnectDelay, MaxReconnectDelay = s.MaxReconnectDelay };
        try
        {
            healing.Validate();
        }
        catch (ArgumentException ex)
        {
            var key = ex.ParamName == nameof(SelfHealingForwardOptions.MaxReconnectDelay) ? nameof(s.MaxReconnectDelay) : nameof(s.ReconnectDelay);
            errors.Add($"{Where(key)}: {key}: {ex.Message}");
        }

        if (s.ConnectTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{Where(nameof(s.ConnectTimeout))}: ConnectTimeout must be positive (was {s.ConnectTimeout})");
        }

        if (s.ServerAliveInterval < TimeSpan.Zero && s.ServerAliveInterval != Timeout.InfiniteTimeSpan)
        {
            errors.Add($"{Where(nameof(s.ServerAliveInterval))}: ServerAliveInterval must be positive, or zero to turn the probe off (was {s.ServerAliveInterval})");
        }

        if (s.ServerAliveCountMax < 1)
        {
            errors.Add($"{Where(nameof(s.ServerAliveCountMax))}: ServerAliveCountMax must be at least 1 (was {s.ServerAliveCountMax})");
        }

        if (s.ChannelWindowSize is < 64 * 1024 or > 1024 * 1024 * 1024)
        {
            errors.Add($"{Where(nameof(s.ChannelWindowSize))}: ChannelWindowSize must be from 65536 (64 KiB) to 1073741824 (1 GiB) bytes (was {s.ChannelWindowSize})");
        }

        if (server is null || hostKey is null || remotes is null || errors.Count > 0)
        {
            throw new OptionsValidationException(Name, typeof(SshTunnelSettings), errors);
        }

        var options = new SshTunnelOptions
        {
            Server = server,
            HostKey = hostKey,
            PrivateKeyPath = s.PrivateKeyPath,
            PrivateKeyPassphrase = s.PrivateKeyPassphrase,
            Password = s.Password,
            ConnectTimeout = s.ConnectTimeout,
            ServerAliveInterval = s.ServerAliveInterval,
            ServerAliveCountMax = s.ServerAliveCountMax,
            ChannelWindowSize = s.ChannelWindowSize,
        };
        CheckCredential(options, errors);
        return errors.Count > 0
            ? throw new OptionsValidationException(Name, typeof(SshTunnelSettings), errors)
            : new SshTunnelPlan(Name, options, remotes, healing);
    }

    private void BindSection(IConfigurationSection section)
    {
        try
        {
            section.Bind(Settings);
        }
        catch (InvalidOperationException ex)
        {
            // A value that does not convert (a TimeSpan of "ten seconds"); the binder's message names the key.
            _errors.Add(ex.Message);
        }

        foreach (var (key, _) in Tracked)
        {
            if (section[key] is not null)
            {
                _sources[key] = section.Path;
            }
        }
    }

    private void ApplyConnectionString(string connectionString)
    {
        _hasConnectionString = true;
        Dictionary<string, string> values;
        try
        {
            values = SshTunnelConnectionString.Parse(connectionString, out var unknown);
            _errors.AddRange(unknown.Select(u => $"{ConnectionStringKey}: {u}"));
        }
        catch (FormatException ex)
        {
            _errors.Add($"{ConnectionStringKey}: {ex.Message}");
            return;
        }

        foreach (var (key, value) in values)
        {
            switch (key)
            {
                case nameof(SshTunnelSettings.SshServer): Settings.SshServer = value; break;
                case nameof(SshTunnelSettings.HostKeyFingerprint): Settings.HostKeyFingerprint = value; break;
                case nameof(SshTunnelSettings.KnownHostsPath): Settings.KnownHostsPath = value; break;
                case nameof(SshTunnelSettings.RemoteEndpoint): Settings.RemoteEndpoint = value; break;
                case nameof(SshTunnelSettings.PrivateKeyPath): Settings.PrivateKeyPath = value; break;
                case nameof(SshTunnelSettings.PrivateKeyPassphrase): Settings.PrivateKeyPassphrase = value; break;
                case nameof(SshTunnelSettings.Password): Settings.Password = value; break;
                default: throw new InvalidOperationException($"Unhandled connection string key {key}.");
            }

            _sources[key] = ConnectionStringKey;
        }
    }

    private TcpEndpoint[]? ParseRemotes(List<string> errors)
    {
        var parts = (Settings.RemoteEndpoint ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0)
        {
            errors.Add($"{ConnectionStringKey}: RemoteEndpoint is missing: give the server as the bastion sees it, tcp://host:port (comma-separated for several replicas)");
            return null;
        }

        try
        {
            return [.. parts.Select(TcpEndpoint.ParseTarget)];
        }
        catch (FormatException ex)
        {
            errors.Add($"{Where(nameof(SshTunnelSettings.RemoteEndpoint))}: RemoteEndpoint: {ex.Message}");
            return null;
        }
    }

    private void CheckCredential(SshTunnelOptions options, List<string> errors)
    {
        // What the bastion cannot change, checked now rather than at the first login: a key that
        // loads (with its passphrase), a password, or a usable default key; a readable known_hosts.
        try
        {
            options.CheckBeforeConnecting();
        }
        catch (SshPrivateKeyException ex)
        {
            // A key the AppHost copied into this container that this (non-root) user may not read:
            // the fix is in the AppHost, so name it.
            var hint = ex.InnerException is UnauthorizedAccessException && options.PrivateKeyPath?.StartsWith(AppHostKeyDirectory, StringComparison.Ordinal) == true
                ? $"; the AppHost copied this key into the container for root: give it this container's user with WithSshKeyOwner({ProcessUser.EffectiveUserId() ?? Environment.UserName})"
                : "";
            errors.Add($"{Where(nameof(SshTunnelSettings.PrivateKeyPath))}: PrivateKeyPath / PrivateKeyPassphrase: {ex.Message}{hint}");
        }
        catch (SshTunnelConfigurationException ex)
        {
            errors.Add(ex.Setting switch
            {
                nameof(SshTunnelOptions.PrivateKeyPath) => $"{ConnectionStringKey}: no credential: set PrivateKeyPath or Password ({ex.Message})",
                nameof(SshTunnelOptions.HostKey) => $"{Where(nameof(SshTunnelSettings.KnownHostsPath))}: KnownHostsPath: {ex.Message}",
                _ => $"{ConnectionStringKey}: {ex.Message}",
            });
        }
        catch (ArgumentException ex)
        {
            errors.Add($"{ConnectionStringKey}: {ex.Message}");
        }
    }

    private string Where(string key) => _sources.GetValueOrDefault(key, ConnectionStringKey);
}

/// <summary>A checked tunnel: what <see cref="SelfHealingForward.Start(SshTunnelOptions, IReadOnlyList{TcpEndpoint}, SelfHealingForwardOptions)"/> takes.</summary>
/// <param name="Name">The connection name.</param>
/// <param name="Options">How to reach and log in to the bastion.</param>
/// <param name="Remotes">The targets, in the order configured.</param>
/// <param name="Healing">The reconnect timings.</param>
internal sealed record SshTunnelPlan(string Name, SshTunnelOptions Options, IReadOnlyList<TcpEndpoint> Remotes, SelfHealingForwardOptions Healing);
