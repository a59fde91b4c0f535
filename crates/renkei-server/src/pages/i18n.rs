//! Every text of the connect pages, in Japanese and English.
//!
//! A text is looked up by key (`pages::text`). Texts are plain text, never HTML: the templates
//! escape them like any other value, so a placeholder filled with a tenant's name cannot inject
//! markup. Placeholders are written `{name}` and filled by `pages::text_with` (and by the
//! templates' `t("key", name=…)`); a test checks that both languages use the same ones.
//!
//! # Keys for handlers
//!
//! The `error.*` keys are the messages a handler shows through
//! `Outcome::Failed` or `ConnectPage::error`. None of them has a
//! placeholder, so `text(lang, "error.link_expired")` is the whole message. The part after
//! `error.` is meant to be the outcome's `code` too:
//!
//! | key | when |
//! | --- | --- |
//! | `error.link_invalid` | the connect token is unknown or malformed |
//! | `error.link_expired` | the connect token is past its `expires_at` |
//! | `error.link_used` | the connect token was already used |
//! | `error.state_invalid` | the callback's `state` is missing, unknown, expired or already used |
//! | `error.provider_error` | the provider answered the token exchange with an error |
//! | `error.provider_unavailable` | the provider could not be reached, timed out or answered 5xx |
//! | `error.invalid_client` | the provider refused the client id/secret (`invalid_client`) |
//! | `error.client_id_required` | form: the client id is empty though required |
//! | `error.client_secret_required` | form: the client secret is empty though required |
//! | `error.data_centre_required` | form: no data centre, or one we do not know |
//! | `error.scope_missing` | the grant lacks scopes we asked for |
//! | `error.account_mismatch` | a member connected another account than the tenant's |
//! | `error.account_changed` | a reconnect chose another account and `switch_account` was off |
//! | `error.tenant_not_connected` | a member's connection before the tenant's |
//! | `error.provider_unsupported` | the provider cannot be connected through this page |
//! | `error.internal` | anything else: a bug or the database |
//!
//! The other keys are the pages' own texts (`page.*`, `connect.*`, `shared.*`, `client.*`,
//! `result.*`, `lang.*`); handlers do not need them but may use them.

/// `(key, Japanese, English)`.
pub(super) const TEXTS: &[(&str, &str, &str)] = &[
    // ── the language switch on the connect page: each names the *other* language, in itself
    ("lang.other_label", "English", "日本語"),
    ("lang.other_code", "en", "ja"),
    // ── the connect page
    (
        "page.title_connect",
        "{provider}との接続",
        "Connect {provider}",
    ),
    (
        "page.title_reconnect",
        "{provider}との再接続",
        "Reconnect {provider}",
    ),
    (
        "connect.intro_tenant",
        "「{tenant}」を{provider}に接続します。",
        "You are about to connect {tenant} to {provider}.",
    ),
    (
        "connect.intro_generic",
        "このワークスペースを{provider}に接続します。",
        "You are about to connect your workspace to {provider}.",
    ),
    (
        "connect.intro_member",
        "{member}さん個人の{provider}アカウントを接続します。このアプリでのあなたの活動が、{provider}にあなたの名前で記録されるようになります。",
        "You are about to connect {member}'s personal {provider} account. Your activity in this app will then be recorded in {provider} under your name.",
    ),
    (
        "connect.member_same_account",
        "組織で接続済みの{provider}アカウントと同じアカウントでログインしてください。別のアカウントには接続できません。",
        "Sign in to the same {provider} account your organisation is connected to. A different account cannot be connected.",
    ),
    (
        "connect.current_account",
        "現在、{provider}のアカウント「{account}」に接続しています。",
        "Currently connected to the {provider} account “{account}”.",
    ),
    (
        "connect.reconnect_note",
        "もう一度接続すると、この接続の認証情報が新しくなります。",
        "Connecting again renews the credentials of this connection.",
    ),
    (
        "connect.switch_label",
        "別のアカウントに接続する",
        "Connect a different account",
    ),
    (
        "connect.switch_hint",
        "チェックを入れると、「{account}」との接続は新しく選ぶアカウントとの接続に置き換わります。",
        "If ticked, the connection to “{account}” is replaced by the account you choose next.",
    ),
    (
        "connect.switch_hint_generic",
        "チェックを入れると、現在の接続は新しく選ぶアカウントとの接続に置き換わります。",
        "If ticked, the current connection is replaced by the account you choose next.",
    ),
    (
        "connect.shared_heading",
        "共有される情報",
        "What will be shared",
    ),
    (
        "connect.shared_intro",
        "接続すると、次の情報へのアクセスを許可することになります。",
        "Connecting gives access to the following:",
    ),
    (
        "connect.password_note",
        "パスワードがこのアプリに渡ることはありません。ログインとアクセスの許可は{provider}の画面で行います。",
        "Your password is never shared with this app: you sign in and allow access on {provider}'s own pages.",
    ),
    ("connect.data_centre_label", "データセンター", "Data centre"),
    ("connect.data_centre_choose", "選んでください", "Choose…"),
    (
        "connect.data_centre_hint",
        "お使いの{provider}のアカウントがあるデータセンターを選んでください。ログインするURLのドメイン（zoho.jp、zoho.com など）で確認できます。",
        "Choose the data centre of your {provider} account. The domain you sign in at (zoho.com, zoho.jp, …) tells which one.",
    ),
    (
        "connect.expires",
        "このリンクは{expires_at}まで有効で、1回だけ使えます。",
        "This link can be used once, until {expires_at}.",
    ),
    (
        "connect.next_step",
        "ボタンを押すと{provider}の画面に移動します。ログインしてアクセスを許可すると、接続が完了します。",
        "The button takes you to {provider}. Sign in and allow access to complete the connection.",
    ),
    ("connect.button", "{provider}に接続", "Connect {provider}"),
    (
        "connect.button_reconnect",
        "{provider}に再接続",
        "Reconnect {provider}",
    ),
    // ── what each provider shares (the connect page lists the keys of its provider)
    (
        "shared.hubspot.records",
        "コンタクト、会社、取引（閲覧・作成・更新）",
        "Contacts, companies and deals (read, create and update)",
    ),
    (
        "shared.hubspot.owners",
        "ユーザー（担当者）の一覧",
        "Owners (the list of HubSpot users)",
    ),
    (
        "shared.hubspot.activity",
        "アクティビティーの書き込み（メール、ミーティング、タスク、メモ、通話）",
        "Writing activity back: emails, meetings, tasks, notes and calls",
    ),
    (
        "shared.salesforce.records",
        "リード、取引先責任者、取引先、商談（閲覧・作成・更新）",
        "Leads, contacts, accounts and opportunities (read, create and update)",
    ),
    (
        "shared.salesforce.tasks",
        "ToDo（通話やチャットを活動履歴に記録します）",
        "Tasks (calls and chats are logged to the activity history)",
    ),
    (
        "shared.salesforce.users",
        "ユーザーの一覧",
        "The list of users",
    ),
    (
        "shared.zoho_crm.records",
        "見込み客、連絡先、取引先、商談（閲覧・作成・更新）",
        "Leads, contacts, accounts and deals (read, create and update)",
    ),
    (
        "shared.zoho_crm.notes",
        "メモ（活動をメモとして記録します）",
        "Notes (activity is recorded as notes)",
    ),
    (
        "shared.zoho_crm.users",
        "ユーザーと組織の情報",
        "Users and organisation details",
    ),
    // ── the OAuth client section of the connect page
    (
        "client.optional_summary",
        "独自のOAuthクライアントを使う（任意）",
        "Use your own OAuth client (optional)",
    ),
    (
        "client.optional_intro",
        "通常は入力不要です。自社で作成したOAuthクライアントを使う場合だけ入力してください。",
        "You can usually leave this empty. Fill it in only to use an OAuth client your organisation created.",
    ),
    (
        "client.required_heading",
        "OAuthクライアント",
        "OAuth client",
    ),
    (
        "client.required_intro",
        "この環境には{provider}のOAuthクライアントが設定されていません。自社で作成したクライアントの情報を入力してください。",
        "This installation has no {provider} OAuth client of its own. Enter the details of a client your organisation created.",
    ),
    (
        "client.register.hubspot",
        "HubSpotの開発者アカウントでアプリを作成し、リダイレクトURLに次のURLを登録してください。",
        "Create an app in your HubSpot developer account and add this URL as a redirect URL:",
    ),
    (
        "client.register.salesforce",
        "Salesforceの設定で接続アプリケーションを作成し、コールバックURLに次のURLを登録してください。",
        "Create a connected app in Salesforce Setup and add this URL as its callback URL:",
    ),
    (
        "client.register.zoho_crm",
        "Zoho API Consoleで「Server-based Applications」のクライアントを作成し、「Authorized Redirect URIs」に次のURLを登録してください。",
        "In the Zoho API Console, create a “Server-based Applications” client and add this URL to its Authorized Redirect URIs:",
    ),
    (
        "client.register.generic",
        "{provider}でOAuthアプリを作成し、リダイレクトURIに次のURLを登録してください。",
        "Create an OAuth app in {provider} and register this URL as its redirect URI:",
    ),
    (
        "client.zoho_console_dc",
        "API Consoleは、選んだデータセンターのもの（日本なら api-console.zoho.jp、米国なら api-console.zoho.com）を使ってください。",
        "Use the API Console of the data centre you chose (api-console.zoho.com for the United States, api-console.zoho.jp for Japan, …).",
    ),
    (
        "client.redirect_uri_label",
        "リダイレクトURI",
        "Redirect URI",
    ),
    ("client.client_id", "クライアントID", "Client ID"),
    (
        "client.client_secret",
        "クライアントシークレット",
        "Client secret",
    ),
    (
        "client.secret_note",
        "クライアントシークレットは暗号化して保存され、あとから表示されることはありません。",
        "The client secret is stored encrypted and is never shown again.",
    ),
    // ── the result page
    ("result.connected_title", "接続しました", "Connected"),
    (
        "result.connected_body",
        "{provider}のアカウント「{account}」に接続しました。",
        "Your {provider} account “{account}” is now connected.",
    ),
    (
        "result.connected_body_generic",
        "{provider}に接続しました。",
        "{provider} is now connected.",
    ),
    (
        "result.denied_title",
        "接続がキャンセルされました",
        "Connection cancelled",
    ),
    (
        "result.denied_body",
        "{provider}でアクセスが許可されなかったため、接続は行われませんでした。",
        "Access was not allowed on {provider}, so nothing was connected.",
    ),
    (
        "result.retry_hint",
        "接続し直すには、アプリの設定画面から新しい接続リンクを開いてください。",
        "To try again, open a new connection link from the app's settings.",
    ),
    (
        "result.failed_title",
        "接続できませんでした",
        "Could not connect",
    ),
    (
        "result.support_hint",
        "問題が解決しない場合は、下のエラーコードを添えてサポート窓口にお問い合わせください。",
        "If the problem persists, contact support and quote the error code below.",
    ),
    (
        "result.error_code",
        "エラーコード: {code}",
        "Error code: {code}",
    ),
    ("result.return", "アプリに戻る", "Return to the app"),
    (
        "result.close",
        "このページは閉じてかまいません。",
        "You can close this page.",
    ),
    // ── messages for handlers (no placeholders; see the table above)
    (
        "error.link_invalid",
        "この接続リンクは無効です。アプリの設定画面から新しいリンクを開いてください。",
        "This connection link is not valid. Open a new link from the app's settings.",
    ),
    (
        "error.link_expired",
        "この接続リンクは有効期限が切れています。アプリの設定画面から新しいリンクを開いてください。",
        "This connection link has expired. Open a new link from the app's settings.",
    ),
    (
        "error.link_used",
        "この接続リンクはすでに使われています。もう一度接続するには、アプリの設定画面から新しいリンクを開いてください。",
        "This connection link has already been used. To connect again, open a new link from the app's settings.",
    ),
    (
        "error.state_invalid",
        "接続の手続きを確認できませんでした。お手数ですが、最初からやり直してください。",
        "This connection attempt could not be verified. Please start again from the beginning.",
    ),
    (
        "error.provider_error",
        "接続先のサービスでエラーが発生しました。しばらくしてから、もう一度お試しください。",
        "The service you are connecting to returned an error. Please try again in a few minutes.",
    ),
    (
        "error.provider_unavailable",
        "接続先のサービスに接続できませんでした。しばらくしてから、もう一度お試しください。",
        "The service you are connecting to could not be reached. Please try again in a few minutes.",
    ),
    (
        "error.invalid_client",
        "クライアントIDまたはクライアントシークレットが正しくありません。入力内容を確認してください。",
        "The client ID or client secret is not valid. Please check them.",
    ),
    (
        "error.client_id_required",
        "クライアントIDを入力してください。",
        "Enter the client ID.",
    ),
    (
        "error.client_secret_required",
        "クライアントシークレットを入力してください。",
        "Enter the client secret.",
    ),
    (
        "error.data_centre_required",
        "データセンターを選んでください。",
        "Choose a data centre.",
    ),
    (
        "error.scope_missing",
        "必要な権限がすべて許可されませんでした。もう一度接続し、表示されるすべての権限を許可してください。",
        "Not all the required permissions were granted. Connect again and allow every permission asked for.",
    ),
    (
        "error.account_mismatch",
        "組織で接続済みのアカウントとは別のアカウントが選ばれました。同じアカウントでログインし直してください。",
        "This is not the account your organisation is connected to. Sign in to the same account and try again.",
    ),
    (
        "error.account_changed",
        "現在接続しているアカウントとは別のアカウントが選ばれました。アカウントを切り替える場合は、「別のアカウントに接続する」にチェックを入れてください。",
        "You chose a different account from the one currently connected. To switch accounts, tick “Connect a different account”.",
    ),
    (
        "error.tenant_not_connected",
        "組織としての接続がまだ完了していません。先に管理者が接続してください。",
        "Your organisation is not connected yet. An administrator needs to connect first.",
    ),
    (
        "error.provider_unsupported",
        "このサービスには、この画面から接続できません。",
        "This service cannot be connected from this page.",
    ),
    (
        "error.internal",
        "予期しないエラーが発生しました。しばらくしてから、もう一度お試しください。",
        "Something unexpected went wrong. Please try again in a few minutes.",
    ),
];

/// The keys listed under "what will be shared" for a provider; empty for one we do not know.
pub(super) fn shared_keys(provider: &str) -> &'static [&'static str] {
    match provider {
        "hubspot" => &[
            "shared.hubspot.records",
            "shared.hubspot.owners",
            "shared.hubspot.activity",
        ],
        "salesforce" => &[
            "shared.salesforce.records",
            "shared.salesforce.tasks",
            "shared.salesforce.users",
        ],
        "zoho_crm" => &[
            "shared.zoho_crm.records",
            "shared.zoho_crm.notes",
            "shared.zoho_crm.users",
        ],
        _ => &[],
    }
}

/// The key of the "register this redirect URI" instruction for a provider.
pub(super) fn register_key(provider: &str) -> &'static str {
    match provider {
        "hubspot" => "client.register.hubspot",
        "salesforce" => "client.register.salesforce",
        "zoho_crm" => "client.register.zoho_crm",
        _ => "client.register.generic",
    }
}

/// The `{name}` placeholders of a text, in order of appearance.
pub(super) fn placeholders(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                out.push(&after[..close]);
                rest = &after[close + 1..];
            }
            None => break,
        }
    }
    out
}

/// Fills `{name}` placeholders in one pass (a value containing `{x}` is not filled again).
/// A placeholder without an argument stays as it is, so a mistake shows instead of vanishing.
pub(super) fn fill(text: &str, args: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let name = &after[..close];
        match args.iter().find(|(n, _)| *n == name) {
            Some((_, value)) => out.push_str(value),
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}
