use std::io::{BufRead, Write};
use std::process::ExitCode;

use super::views::{self, ClientListOut, ClientOut, InstanceOut, PlanOut, TokenOut};
use super::{output, Cli, ClientCmd, Command, ConfigCmd, InstanceCmd, PlanArgs, PlanCmd, TokenCmd};
use crate::audit::Actor;
use crate::config::Config;
use crate::domain::{size::SizeInput, ClientStatus};
use crate::ops::{
    ClientEdit, ClientView, InstanceAction, InstanceEdit, NewClientInput, NewInstanceInput, Ops,
    OpsError, PlanEdit, PlanInput,
};
use crate::store::InstanceRow;

/// A failure already explained to the user, with its exit code.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
}

impl From<OpsError> for Failure {
    fn from(e: OpsError) -> Self {
        Self {
            code: 1,
            message: e.to_string(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        // One line: the outermost context and its causes.
        Self {
            code: 1,
            message: format!("{e:#}"),
        }
    }
}

pub fn run(cli: Cli) -> ExitCode {
    crate::tls::install_crypto_provider();
    init_tracing(matches!(cli.command, Command::Serve));
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("berth: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

fn init_tracing(daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn load_config(cli: &Cli) -> Result<Config, Failure> {
    Config::load(cli.config.as_deref(), |k| std::env::var(k).ok())
        .map_err(|e| Failure::usage(e.to_string()))
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure {
            code: 1,
            message: format!("starting runtime: {e}"),
        })
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    match &cli.command {
        Command::Config(ConfigCmd::Example) => {
            print!("{}", crate::config::EXAMPLE);
            return Ok(());
        }
        Command::Config(ConfigCmd::Check) => {
            println!("{:#?}", load_config(&cli)?);
            return Ok(());
        }
        _ => {}
    }
    let config = load_config(&cli)?;
    let rt = runtime()?;
    match cli.command {
        Command::Serve => rt.block_on(async {
            let app = crate::app::App::build(config).await?;
            app.run(crate::app::shutdown_signal()).await?;
            Ok(())
        }),
        Command::Doctor => rt.block_on(super::doctor::doctor(&config, cli.json)),
        Command::Bench(cmd @ super::BenchCmd::Usage { .. }) => {
            rt.block_on(super::bench_usage::run(config, cmd))
        }
        Command::Bench(cmd) => rt.block_on(super::bench::run(config, cmd)),
        command => {
            let ops = open_ops(config)?;
            rt.block_on(operate(&ops, command, cli.json))
        }
    }
}

fn open_ops(config: Config) -> Result<Ops, Failure> {
    Ops::open(&config).map_err(|e| match e {
        // A blueprint directory that does not load is bad configuration.
        OpsError::Refused(m) => Failure::usage(m),
        other => Failure::from(other),
    })
}

fn plan_edit(args: PlanArgs, rename: Option<String>) -> PlanEdit {
    PlanEdit {
        name: rename,
        cpus: args.cpus,
        memory: args.memory.map(SizeInput::Text),
        memory_reservation: args.memory_reservation.map(SizeInput::Text),
        storage: args.storage.map(SizeInput::Text),
        max_instances: args.max_instances,
    }
}

/// Prints `value` as JSON for scripts, or `human` for people.
pub(super) fn show<T: serde::Serialize>(as_json: bool, value: &T, human: impl FnOnce(&T)) {
    if as_json {
        output::json(value);
    } else {
        human(value);
    }
}

/// What a command that changes something and has nothing else to show prints.
pub(super) fn done(as_json: bool, key: &str, name: &str, line: String) {
    show(as_json, &serde_json::json!({ key: name }), |_| {
        println!("{line}")
    });
}

async fn operate(ops: &Ops, command: Command, as_json: bool) -> Result<(), Failure> {
    let actor = Actor::cli();
    let config = ops.config();
    let instance = |row: InstanceRow| InstanceOut::new(row, config);
    let client = |view: ClientView| ClientOut::new(view, config);
    match command {
        Command::Token(TokenCmd::Create { name }) => {
            let token = ops.create_token(&actor, &name).await?;
            // Plain, the token alone on stdout, so `$(berth token create x)` works.
            show(
                as_json,
                &serde_json::json!({ "name": name, "token": token }),
                |_| println!("{token}"),
            );
            eprintln!("Store this token now: it is not shown again.");
        }
        Command::Token(TokenCmd::List) => {
            let tokens: Vec<TokenOut> = ops
                .list_tokens()
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            show(as_json, &tokens, |tokens| {
                output::table(
                    &["name", "created", "last used"],
                    tokens
                        .iter()
                        .map(|t| {
                            vec![
                                t.name.clone(),
                                t.created_at.clone(),
                                t.last_used_at.clone().unwrap_or_else(|| "never".into()),
                            ]
                        })
                        .collect(),
                )
            });
        }
        Command::Token(TokenCmd::Revoke { name }) => {
            ops.revoke_token(&actor, &name).await?;
            done(as_json, "revoked", &name, format!("Token {name} revoked."));
        }
        Command::Plan(PlanCmd::Create { name, args }) => {
            let cpus = args
                .cpus
                .ok_or_else(|| Failure::usage("--cpus is required"))?;
            let memory = args
                .memory
                .clone()
                .ok_or_else(|| Failure::usage("--memory is required"))?;
            let input = PlanInput {
                name,
                cpus,
                memory: SizeInput::Text(memory),
                memory_reservation: args.memory_reservation.map(SizeInput::Text),
                storage: args.storage.map(SizeInput::Text),
                max_instances: args.max_instances,
            };
            let plan = PlanOut::from(ops.create_plan(&actor, input).await?);
            show(as_json, &plan, |p| println!("{}", p.summary("created")));
        }
        Command::Plan(PlanCmd::List) => {
            let plans: Vec<PlanOut> = ops
                .list_plans()
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            show(as_json, &plans, |plans| {
                output::table(PlanOut::HEADER, plans.iter().map(PlanOut::cells).collect())
            });
        }
        Command::Plan(PlanCmd::Edit { name, rename, args }) => {
            let plan = PlanOut::from(
                ops.edit_plan(&actor, &name, plan_edit(args, rename))
                    .await?,
            );
            show(as_json, &plan, |p| println!("{}", p.summary("changed")));
        }
        Command::Plan(PlanCmd::Delete { name }) => {
            ops.delete_plan(&actor, &name).await?;
            done(as_json, "deleted", &name, format!("Plan {name} deleted."));
        }
        Command::Client(ClientCmd::Create {
            name,
            email,
            plan,
            blueprint,
            domain,
            notes,
            env,
        }) => {
            let view = ops
                .create_client(
                    &actor,
                    NewClientInput {
                        name,
                        email,
                        plan,
                        notes,
                        blueprint,
                        domain,
                        env: (!env.is_empty()).then(|| env.into_iter().collect()),
                    },
                )
                .await?;
            show(as_json, &client(view), |c| c.print("created"));
        }
        Command::Client(ClientCmd::List) => {
            let clients: Vec<ClientListOut> = ops
                .list_clients()
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            show(as_json, &clients, |clients| {
                output::table(
                    &["slug", "name", "plan", "instances", "status", "created"],
                    clients
                        .iter()
                        .map(|c| {
                            vec![
                                c.slug.clone(),
                                c.name.clone(),
                                c.plan.clone(),
                                c.instances.to_string(),
                                c.status.to_string(),
                                c.created_at.clone(),
                            ]
                        })
                        .collect(),
                )
            });
        }
        Command::Client(ClientCmd::Show { slug }) => show(
            as_json,
            &client(ops.get_client(&slug).await?),
            ClientOut::print_details,
        ),
        Command::Client(ClientCmd::Edit {
            slug,
            name,
            email,
            plan,
            notes,
        }) => {
            let edit = ClientEdit {
                name,
                email,
                plan,
                notes,
            };
            let view = ops.edit_client(&actor, &slug, edit).await?;
            show(as_json, &client(view), |c| {
                println!("{}", c.summary("changed"))
            });
        }
        Command::Client(ClientCmd::Suspend { slug }) => {
            let view = ops
                .set_client_status(&actor, &slug, ClientStatus::Suspended)
                .await?;
            show(as_json, &client(view), |c| {
                println!("{}", c.summary("suspended"))
            });
        }
        Command::Client(ClientCmd::Resume { slug }) => {
            let view = ops
                .set_client_status(&actor, &slug, ClientStatus::Active)
                .await?;
            show(as_json, &client(view), |c| {
                println!("{}", c.summary("resumed"))
            });
        }
        Command::Client(ClientCmd::Delete { slug, confirm }) => {
            let confirm = match confirm {
                Some(c) => c,
                None => ask(&format!("This deletes client {slug} with all containers, data and backups. Type the slug to confirm: "))?,
            };
            let job = ops.delete_client(&actor, &slug, &confirm).await?;
            let report = super::follow::deletion(ops, job).await?;
            show(as_json, &report, |r| {
                println!("{}", views::deletion_summary(r))
            });
        }
        Command::Instance(InstanceCmd::Add {
            slug,
            name,
            blueprint,
            domain,
            env,
        }) => {
            let input = NewInstanceInput {
                name: Some(name),
                blueprint,
                domain,
                env: (!env.is_empty()).then(|| env.into_iter().collect()),
            };
            let row = ops.add_instance(&actor, &slug, input).await?;
            show(as_json, &instance(row), |i| {
                println!("{}", i.summary("created"))
            });
        }
        Command::Instance(InstanceCmd::List { slug }) => {
            let list: Vec<InstanceOut> = ops
                .list_instances(slug.as_deref())
                .await?
                .into_iter()
                .map(instance)
                .collect();
            show(as_json, &list, |list| {
                output::table(
                    InstanceOut::HEADER,
                    list.iter().map(InstanceOut::cells).collect(),
                )
            });
        }
        Command::Instance(InstanceCmd::Edit {
            id,
            env,
            clear_env,
            domains,
        }) => {
            let edit = InstanceEdit {
                env: (clear_env || !env.is_empty()).then(|| env.into_iter().collect()),
                domains: (!domains.is_empty()).then_some(domains),
            };
            let row = ops.edit_instance(&actor, id, edit).await?;
            show(as_json, &instance(row), |i| {
                println!("{}", i.summary("changed"))
            });
        }
        Command::Instance(InstanceCmd::Show { id }) => {
            show(as_json, &instance(ops.get_instance(id).await?), |i| {
                output::fields(&i.details())
            })
        }
        Command::Instance(InstanceCmd::Start { id }) => {
            let row = ops
                .instance_action(&actor, id, InstanceAction::Start)
                .await?;
            show(as_json, &instance(row), |i| {
                println!("{}", i.summary("starting"))
            });
        }
        Command::Instance(InstanceCmd::Stop { id }) => {
            let row = ops
                .instance_action(&actor, id, InstanceAction::Stop)
                .await?;
            show(as_json, &instance(row), |i| {
                println!("{}", i.summary("stopping"))
            });
        }
        Command::Instance(InstanceCmd::Restart { id }) => {
            let row = ops
                .instance_action(&actor, id, InstanceAction::Restart)
                .await?;
            show(as_json, &instance(row), |i| {
                println!("{}", i.summary("restarting"))
            });
        }
        Command::Instance(InstanceCmd::Remove { id, confirm }) => {
            let confirm = match confirm {
                Some(c) => c,
                None => ask("This removes the instance with its container and data. Type <slug>/<name> to confirm: ")?,
            };
            let job = ops.remove_instance(&actor, id, &confirm).await?;
            let report = super::follow::deletion(ops, job).await?;
            show(as_json, &report, |r| {
                println!("{}", views::deletion_summary(r))
            });
        }
        Command::Backup(cmd) => super::backup::run(ops, cmd, as_json).await?,
        Command::Usage(cmd) => super::usage::run(ops, cmd, as_json).await?,
        Command::User(cmd) => super::users::run(ops, &actor, cmd, as_json).await?,
        Command::Serve | Command::Doctor | Command::Config(_) | Command::Bench(_) => {
            unreachable!("handled before opening the store")
        }
    }
    Ok(())
}

fn ask(prompt: &str) -> Result<String, Failure> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("reading confirmation: {e}")))?;
    Ok(line.trim().to_owned())
}
