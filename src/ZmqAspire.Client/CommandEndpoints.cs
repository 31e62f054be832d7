using System.Security.Cryptography;
using System.Text;
using ZmqAspire.Messaging;
using ZmqAspire.Tunneling;

namespace ZmqAspire.Client;

/// <summary>
/// The HTTP side of the dashboard's resource commands: <c>POST /commands/send-request</c> and
/// <c>POST /commands/reconnect</c>. Both require <see cref="RequestClientOptions.CommandToken"/>
/// in the <see cref="TokenHeader"/> header; without a configured token they are not mapped.
/// </summary>
public static class CommandEndpoints
{
    /// <summary>The header that carries the command token.</summary>
    public const string TokenHeader = "X-ZmqAspire-Command-Token";

    /// <summary>The send-one-request path.</summary>
    public const string SendRequestPath = "/commands/send-request";

    /// <summary>The reconnect path.</summary>
    public const string ReconnectPath = "/commands/reconnect";

    private static readonly TimeSpan SendTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Maps the command endpoints when a token is configured.</summary>
    /// <param name="app">The application.</param>
    /// <param name="token">The token callers must present; <see langword="null"/> or empty maps nothing.</param>
    /// <returns>The same application.</returns>
    public static WebApplication MapClientCommands(this WebApplication app, string? token)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (string.IsNullOrEmpty(token))
        {
            return app;
        }

        var expected = Encoding.UTF8.GetBytes(token);
        var group = app.MapGroup(string.Empty).AddEndpointFilter(async (context, next) =>
        {
            var presented = Encoding.UTF8.GetBytes(context.HttpContext.Request.Headers[TokenHeader].ToString());
            return CryptographicOperations.FixedTimeEquals(presented, expected)
                ? await next(context).ConfigureAwait(false)
                : Results.Unauthorized();
        });

        group.MapPost(SendRequestPath, async (ClientCommands commands, TunnelHealth health, CancellationToken ct) =>
        {
            if (!health.IsUp)
            {
                return Results.Problem("the SSH tunnel is down", statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(SendTimeout);
            try
            {
                var reply = await commands.SendOneAsync(timeout.Token).ConfigureAwait(false);
                return Results.Json(
                    new SendRequestResult(reply.Sequence, reply.BodyText, reply.RetryCount, reply.Duration.TotalMilliseconds, reply.TraceId),
                    CommandJsonContext.Default.SendRequestResult);
            }
            catch (Exception ex) when (ex is ZmqRequestTimeoutException or ZmqProtocolException or OperationCanceledException or InvalidOperationException)
            {
                return Results.Problem(ex.Message, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
        });

        group.MapPost(ReconnectPath, (ClientCommands commands) =>
        {
            commands.RequestReconnect();
            return Results.Json(new CommandAccepted("reconnecting the SSH tunnel"), CommandJsonContext.Default.CommandAccepted, statusCode: StatusCodes.Status202Accepted);
        });
        return app;
    }
}
