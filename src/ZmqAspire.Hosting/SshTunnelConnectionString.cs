using System.Data.Common;
using System.Globalization;

namespace Aspire.Hosting.ApplicationModel;

/// <summary>Builds the consumer's connection string (the contract in <c>SshTunnelBuilderExtensions</c>).</summary>
internal static class SshTunnelConnectionString
{
    public static ReferenceExpression Create(SshBastionResource bastion, IReadOnlyList<SshForwardTarget> targets, bool inContainer, ParameterResource? password)
    {
        var builder = new ReferenceExpressionBuilder();
        builder.AppendLiteral($"SshServer={bastion.UserName}@");
        if (inContainer)
        {
            // Containers share the app's network with the bastion: its name and sshd's own port.
            builder.AppendLiteral($"{bastion.Name}:{SshBastionResource.SshTargetPort.ToString(CultureInfo.InvariantCulture)}");
        }
        else
        {
            var ssh = bastion.SshEndpoint;
            builder.Append($"{ssh.Property(EndpointProperty.Host)}:{ssh.Property(EndpointProperty.Port)}");
        }

        builder.Append($";HostKeyFingerprint={bastion.HostKeyFingerprint};RemoteEndpoint=");
        for (var i = 0; i < targets.Count; i++)
        {
            builder.AppendLiteral(i == 0 ? "tcp://" : ",tcp://");
            builder.Append($"{targets[i].HostAndPort}");
        }

        if (password is not null)
        {
            builder.Append($";Password={new QuotedValue(password)}");
        }
        else if (inContainer)
        {
            builder.AppendLiteral($";PrivateKeyPath={SshTunnelBuilderExtensions.ContainerKeyDirectory}/{SshTunnelBuilderExtensions.KeyFileName(bastion)}");
        }
        else
        {
            builder.Append($";PrivateKeyPath={bastion.ClientPrivateKeyPath}");
        }

        return builder.Build();
    }

    /// <summary>
    /// A parameter's value quoted as a connection string value (a password may hold <c>;</c>,
    /// <c>=</c> or quotes), so <see cref="DbConnectionStringBuilder"/> reads it back unchanged.
    /// The manifest keeps the parameter's own reference.
    /// </summary>
    private sealed class QuotedValue(ParameterResource parameter) : IValueProvider, IManifestExpressionProvider
    {
        public string ValueExpression => parameter.ValueExpression;

        public async ValueTask<string?> GetValueAsync(CancellationToken cancellationToken = default) =>
            await parameter.GetValueAsync(cancellationToken).ConfigureAwait(false) is { } value ? Quote(value) : null;

        internal static string Quote(string value)
        {
            var builder = new DbConnectionStringBuilder { ["v"] = value };
            return builder.ConnectionString["v=".Length..];
        }
    }
}
